#!/usr/bin/env bash
# Builds the XCP-ng-ready artefacts into target/dist/:
#   - xenpci and xenpci-plugin as static musl binaries (they run on XCP-ng 8.2/8.3's CentOS 7
#     userland, glibc 2.17, and in a busybox dom0); falls back to the glibc build when the musl
#     target is not installed, and then prints the highest GLIBC_ symbol version the binaries need;
#   - the man page and bash/zsh/fish completions, generated from the CLI's own clap model;
#   - an RPM (cargo generate-rpm) installing /usr/bin/xenpci, /etc/xapi.d/plugins/xenpci, the man
#     page and the completions.
# Usage: scripts/package.sh            (installs cargo-generate-rpm with cargo if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
DIST=target/dist
rm -rf "$DIST"; mkdir -p "$DIST/completions"

TARGET=x86_64-unknown-linux-musl
if rustup target list --installed 2>/dev/null | grep -qx "$TARGET" || rustup target add "$TARGET" >/dev/null 2>&1; then
  cargo build --release --locked --target "$TARGET" --bin xenpci --bin xenpci-plugin
  BIN=target/$TARGET/release
else
  echo "package.sh: musl target unavailable; building against glibc" >&2
  TARGET=x86_64-unknown-linux-gnu
  cargo build --release --locked --bin xenpci --bin xenpci-plugin
  BIN=target/release
fi
cp "$BIN/xenpci" "$BIN/xenpci-plugin" "$DIST/"

for b in xenpci xenpci-plugin; do
  if file -L "$DIST/$b" | grep -q 'statically linked\|static-pie'; then
    echo "$b: static ($(file -L "$DIST/$b" | sed 's/.*ELF/ELF/' | cut -d, -f1-2)), needs no glibc"
  else
    floor=$(objdump -T "$DIST/$b" | grep -o 'GLIBC_[0-9.]*' | sort -t. -k1,1 -k2,2n -k3,3n -V | tail -1)
    echo "$b: dynamically linked; highest glibc symbol version needed: ${floor:-none}"
  fi
done

"$DIST/xenpci" manpage > "$DIST/xenpci.1"
gzip -9n "$DIST/xenpci.1"
for sh in bash zsh fish; do "$DIST/xenpci" completions "$sh" > "$DIST/completions/xenpci.$sh"; done

command -v cargo-generate-rpm >/dev/null || cargo install --locked cargo-generate-rpm
# Assets are listed in Cargo.toml's [package.metadata.generate-rpm] (sources under target/dist).
cargo generate-rpm -o "$DIST/"
ls -l "$DIST"/*.rpm
command -v rpm >/dev/null && rpm -qlp "$DIST"/*.rpm
