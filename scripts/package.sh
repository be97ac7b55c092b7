#!/usr/bin/env bash
# Builds xenpci's installable artefacts into target/dist/:
#   - xenpci and xenpci-plugin as static musl binaries: they run on XCP-ng 8.2/8.3's CentOS 7
#     userland (glibc 2.17), on Debian, and in a busybox dom0. Without the musl target the glibc
#     build is used only if its highest GLIBC_ symbol version is 2.17 or lower; otherwise the
#     script fails (a package that cannot start on XCP-ng is worse than none);
#   - the man page and bash/zsh/fish completions, generated from the CLI's own clap model;
#   - xenpci-VERSION-1.x86_64.rpm for XCP-ng / XenServer (cargo generate-rpm; the XAPI plugin at
#     /etc/xapi.d/plugins/xenpci), and xenpci_VERSION-1_amd64.deb for plain-Xen Debian hosts
#     (cargo deb; the same files without the plugin). Both lists are in Cargo.toml's
#     [package.metadata.generate-rpm] and [package.metadata.deb].
# It exits 0 when both packages were built, and says what it could not check on this machine.
# scripts/check-packages.sh checks and installs what this script built.
#
# Usage: scripts/package.sh
#   XENPCI_PKG_INSTALL_TOOLS=0   never `cargo install` cargo-generate-rpm / cargo-deb (fail instead)
set -euo pipefail
cd "$(dirname "$0")/.."
DIST=target/dist
rm -rf "$DIST"; mkdir -p "$DIST/completions"
say() { echo "package.sh: $*"; }
die() { echo "package.sh: error: $*" >&2; exit 1; }
unchecked=()

# ---- 1. static binaries ----
TARGET=x86_64-unknown-linux-musl
if rustup target list --installed 2>/dev/null | grep -qx "$TARGET" ||
   rustup target add "$TARGET" >/dev/null 2>&1; then
  say "cargo build --release --locked --target $TARGET"
  cargo build --release --locked --quiet --target "$TARGET" --bin xenpci --bin xenpci-plugin
  BIN=target/$TARGET/release
else
  say "the musl target is not available (rustup target add $TARGET failed); trying glibc"
  cargo build --release --locked --quiet --bin xenpci --bin xenpci-plugin
  BIN=target/release
fi
cp "$BIN/xenpci" "$BIN/xenpci-plugin" "$DIST/"

# The floor: static, or no GLIBC_ symbol newer than 2.17.
glibc_floor() { objdump -T "$1" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1; }
for b in xenpci xenpci-plugin; do
  desc=$(file -L "$DIST/$b")
  if grep -q 'static-pie linked\|statically linked' <<<"$desc"; then
    say "$b: static ($(sed 's/.*ELF/ELF/' <<<"$desc" | cut -d, -f1-2)), needs no glibc"
  else
    floor=$(glibc_floor "$DIST/$b")
    if [ -n "$floor" ] && [ "$(printf '%s\n2.17\n' "$floor" | sort -V | tail -1)" != 2.17 ]; then
      die "$b is dynamically linked and needs GLIBC_$floor; XCP-ng 8.2/8.3 has 2.17 (install the musl target: rustup target add $TARGET)"
    fi
    say "$b: dynamically linked, highest glibc symbol version ${floor:-none} (<= 2.17)"
  fi
done

# ---- 2. what ships beside the binaries ----
# xenpci.1 and the xenpci-COMMAND.1 pages it refers to (one per command and subcommand).
"$DIST/xenpci" manpage --dir "$DIST/man"
gzip -9n "$DIST"/man/*.1
for sh in bash zsh fish; do "$DIST/xenpci" completions "$sh" > "$DIST/completions/xenpci.$sh"; done

# ---- 3. the packages ----
tool() { # tool CRATE SUBCOMMAND: make `cargo SUBCOMMAND` available
  command -v "cargo-$2" >/dev/null && return 0
  [ "${XENPCI_PKG_INSTALL_TOOLS:-1}" = 1 ] || die "cargo-$2 is not installed (cargo install --locked $1)"
  say "cargo install --locked $1"
  cargo install --locked --quiet "$1" || die "cargo install $1 failed"
}
tool cargo-generate-rpm generate-rpm
tool cargo-deb deb
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
# The assets' sources are under target/dist (Cargo.toml); both tools take them as they are.
# XCP-ng 8.2's rpm is 4.11 (CentOS 7): it cannot read a zstd payload (cargo generate-rpm's
# default), so the payload is xz. The binaries are static, so the RPM requires nothing (the
# automatic ldd scan would add `rtld(GNU_HASH)` and `/bin/sh` for a package that needs neither).
# File times and the build time are the last commit's, so two builds of one commit are identical.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
cargo generate-rpm --payload-compress xz --auto-req disabled \
  --output "$DIST/xenpci-$VERSION-1.x86_64.rpm" >/dev/null
cargo deb --no-build --no-strip --output "$DIST/xenpci_${VERSION}-1_amd64.deb" >/dev/null
for p in "$DIST"/*.rpm "$DIST"/*.deb; do say "built $p ($(stat -c %s "$p") bytes)"; done

command -v rpm >/dev/null || unchecked+=("the RPM's file list (no rpm here: apt-get install rpm)")
command -v dpkg-deb >/dev/null || unchecked+=("the .deb's file list (no dpkg-deb here)")
for u in ${unchecked[@]+"${unchecked[@]}"}; do say "not checked: $u"; done
say "done; scripts/check-packages.sh checks and installs them"
