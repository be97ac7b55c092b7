#!/usr/bin/env bash
# Checks the packages scripts/package.sh built in target/dist/, then installs and runs them:
#   1. each package's file list and modes are exactly scripts/package-contents.txt;
#   2. the packed binaries are static (or need no glibc newer than 2.17);
#   3. the RPM installs into a scratch root with Debian's rpm (`rpm --root`), the .deb with
#      `dpkg --root`; the installed `xenpci --version` and `xenpci demo` run, and the installed
#      XAPI plugin answers `fn=version` to Python's xmlrpc.client the way xapi calls it;
#   4. reinstalling over itself (the upgrade path) and uninstalling work, and uninstalling leaves
#      nothing of the package behind.
# One line per check, then `packages: N passed, N failed`; exit 1 if any failed.
# The .deb's installed root stays in target/pkg-root/deb (tests/run.sh hands its xenpci to the
# real-Xen tier).
set -uo pipefail
cd "$(dirname "$0")/.."
DIST=target/dist
ROOTS=target/pkg-root
PASS=0 FAIL=0
ok() { echo "ok   $1"; PASS=$((PASS + 1)); }
bad() { echo "FAIL $1"; [ -n "${2:-}" ] && sed 's/^/     | /' <<<"$2"; FAIL=$((FAIL + 1)); }
check() { # check NAME COMMAND...: one verdict, the command's output shown on failure
  local name=$1 out; shift
  if out=$("$@" 2>&1); then ok "$name"; else bad "$name" "$out"; fi
}

rpm_file=$(ls "$DIST"/xenpci-*.x86_64.rpm 2>/dev/null | head -1)
deb_file=$(ls "$DIST"/xenpci_*_amd64.deb 2>/dev/null | head -1)
[ -n "$rpm_file" ] && [ -n "$deb_file" ] || { echo "check-packages.sh: run scripts/package.sh first"; echo "packages: 0 passed, 1 failed"; exit 1; }
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
# Debian's rpm refuses to touch the system without --force-debian (we only use --root), and keeps
# its database in ~/.rpmdb unless told: the scratch roots get the RPM distributions' place.
RPM=(rpm --force-debian --dbpath /var/lib/rpm)

# ---- 1. contents ----
# The man pages: one per command and subcommand of the xenpci that was packed.
man_pages() { local d; d=$(mktemp -d); "$DIST/xenpci" manpage --dir "$d" && ls "$d"; rm -rf "$d"; }
MAN_PAGES=$(man_pages)
expected() {
  { awk -v k="$1" '$1 == k { print $2, $3 }' scripts/package-contents.txt
    for m in $MAN_PAGES; do echo "644 /usr/share/man/man1/$m.gz"; done; } | sort
}
rpm_list() { "${RPM[@]}" -qp --queryformat '[%{FILEMODES:perms} %{FILENAMES}\n]' "$rpm_file" |
  awk '$1 !~ /^d/ { print substr($1, 2), $2 }' | perms_to_octal | sort; }
deb_list() { dpkg-deb -c "$deb_file" | awk '$1 !~ /^d/ { p = $6; sub(/^\./, "", p); print substr($1, 2), p }' |
  perms_to_octal | sort; }
perms_to_octal() { # "rwxr-xr-x /x" -> "755 /x"
  while read -r perms path; do
    o=""
    for i in 0 3 6; do
      d=0; [ "${perms:i:1}" = r ] && d=$((d + 4)); [ "${perms:i+1:1}" = w ] && d=$((d + 2))
      [ "${perms:i+2:1}" = x ] && d=$((d + 1)); o="$o$d"
    done
    echo "$o $path"
  done
}
check "rpm: file list and modes are scripts/package-contents.txt" diff <(expected rpm) <(rpm_list)
check "deb: file list and modes are scripts/package-contents.txt" diff <(expected deb) <(deb_list)
check "man pages: xenpci.1 and one page per command ($(wc -w <<<"$MAN_PAGES") pages)" bash -c "
  for c in \$('$DIST/xenpci' help | sed -n '/^Commands:/,/^\$/p' | awk 'NR > 1 && /^  [a-z]/ { print \$1 }'); do
    [ \"\$c\" = help ] || grep -qx \"xenpci-\$c.1\" <<<'$MAN_PAGES' || { echo \"no page for \$c\"; exit 1; }
  done"
check "rpm: name, version, license" bash -c "[ \"\$(${RPM[*]} -qp --queryformat '%{NAME} %{VERSION} %{LICENSE}' '$rpm_file')\" = 'xenpci $VERSION GPL-3.0-only' ]"
check "deb: package, version, no dependencies" bash -c "
  [ \"\$(dpkg-deb -f '$deb_file' Package Version | tr '\n' ' ')\" = 'Package: xenpci Version: $VERSION-1 ' ] &&
  [ -z \"\$(dpkg-deb -f '$deb_file' Depends)\" ]"
# What XCP-ng 8.2's rpm 4.11 (CentOS 7) can install: no rpmlib feature it lacks (a zstd payload
# is rpmlib(PayloadIsZstd), rpm 4.14+), and nothing else required (the binaries are static).
rpm_requires_ok() {
  local bad
  bad=$("${RPM[@]}" -qp --requires "$rpm_file" | grep -v -E \
    '^rpmlib\((CompressedFileNames|FileDigests|PayloadFilesHavePrefix|PayloadIsXz)\) <= ')
  [ -z "$bad" ] || { echo "requires what rpm 4.11 or a static binary does not need: $bad"; return 1; }
}
check "rpm: requires nothing rpm 4.11 (XCP-ng 8.2) lacks, no packages" rpm_requires_ok
check "rpm: no install/upgrade/uninstall scriptlets" bash -c "[ -z \"\$(${RPM[*]} -qp --scripts '$rpm_file')\" ]"
check "deb: no maintainer scripts" bash -c "! dpkg-deb --ctrl-tarfile '$deb_file' | tar -t | grep -E 'preinst|postinst|prerm|postrm'"

# ---- 2. the binaries' floor ----
floor_ok() { # static, or GLIBC_ <= 2.17
  local d; d=$(file -L "$1")
  grep -q 'static-pie linked\|statically linked' <<<"$d" && return 0
  local f; f=$(objdump -T "$1" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)
  [ -z "$f" ] || [ "$(printf '%s\n2.17\n' "$f" | sort -V | tail -1)" = 2.17 ] || { echo "$1: $d; needs GLIBC_$f"; return 1; }
}

# No test machinery in what ships: the fault hooks are a cargo feature the packages are built
# without, the mocks are not packed (the file lists above), and the fixture generator
# (crates/xenpci-fixtures) is not linked: the demo's hosts are in xenpci as packed data only.
no_hooks() {
  local b
  for b in "$DIST/xenpci" "$DIST/xenpci-plugin"; do
    if grep -a -q -E 'XENPCI_FAIL_WRITE|XENPCI_CRASH_(AFTER|BEFORE)_STEP' "$b"; then
      echo "$b carries the fault-injection hooks"; return 1
    fi
  done
}
check "binaries: no fault-injection hooks compiled in" no_hooks
no_generator() {
  local b
  for b in "$DIST/xenpci" "$DIST/xenpci-plugin"; do
    if grep -a -q -E 'fixture address|fixture: no (PF|function)' "$b"; then
      echo "$b carries the fixture generator"; return 1
    fi
  done
}
check "binaries: no fixture generator linked (the demo's hosts are data)" no_generator

# ---- 3. install and run ----
rm -rf "$ROOTS"; mkdir -p "$ROOTS/rpm" "$ROOTS/deb/var/lib/dpkg/info" "$ROOTS/deb/var/lib/dpkg/updates"
touch "$ROOTS/deb/var/lib/dpkg/status"
R=$(cd "$ROOTS/rpm" && pwd) D=$(cd "$ROOTS/deb" && pwd)
# Every file and link, minus the package databases (directories stay: in a real system the
# distribution's base packages own /usr/share/man and the like).
snapshot() { (cd "$1" && find . -path ./var/lib -prune -o ! -type d -print | sort); }
snapshot "$R" > "$ROOTS/rpm.before"; snapshot "$D" > "$ROOTS/deb.before"
check "rpm: installs into a scratch root (rpm --root)" "${RPM[@]}" --root "$R" -i --nodeps "$rpm_file"
check "rpm: rpm -q sees it installed" "${RPM[@]}" --root "$R" -q xenpci
check "rpm: installed files verify (rpm -V)" "${RPM[@]}" --root "$R" -V xenpci
check "deb: installs into a scratch root (dpkg --root)" dpkg --root="$D" --force-not-root --force-script-chrootless -i "$deb_file"
check "deb: dpkg -s says installed" bash -c "dpkg --root='$D' -s xenpci | grep -qx 'Status: install ok installed'"
for x in "$R/usr/bin/xenpci" "$R/etc/xapi.d/plugins/xenpci" "$D/usr/bin/xenpci"; do
  check "floor: ${x#$PWD/} is static or needs glibc <= 2.17" floor_ok "$x"
done
for r in "$R" "$D"; do
  kind=$(basename "$r")
  check "$kind: installed xenpci --version says $VERSION" bash -c "[ \"\$('$r/usr/bin/xenpci' --version)\" = 'xenpci $VERSION' ]"
  check "$kind: installed xenpci demo runs (exit 0, lists the HBA)" bash -c "'$r/usr/bin/xenpci' demo | grep -q 'SAS2308'"
done
check "rpm: installed plugin answers fn=version over XML-RPC" bash -c "
  python3 tests/plugin/xmlrpc_call.py '$R/etc/xapi.d/plugins/xenpci' version |
  python3 -c 'import json,sys; v=json.load(sys.stdin); assert v[\"exit\"]==0 and v[\"status\"]==\"Success\", v; assert json.loads(v[\"value\"])[\"version\"]==\"$VERSION\", v'"
check "deb: no XAPI plugin in the Debian package" test ! -e "$D/etc/xapi.d/plugins/xenpci"

# ---- 4. upgrade path (the same version over itself) and uninstall ----
check "rpm: upgrade over an installed copy (rpm -U --replacepkgs)" "${RPM[@]}" --root "$R" -U --nodeps --replacepkgs "$rpm_file"
check "deb: reinstall over an installed copy" dpkg --root="$D" --force-not-root --force-script-chrootless -i "$deb_file"
uninstalled() { # uninstalled KIND: the root is as it was before the install
  diff "$ROOTS/$1.before" <(snapshot "$ROOTS/$1")
}
check "rpm: uninstall (rpm -e) leaves the root as it was" bash -c "
  ${RPM[*]} --root '$R' -e xenpci && ! ${RPM[*]} --root '$R' -q xenpci >/dev/null"
check "rpm: nothing of the package is left" uninstalled rpm
check "deb: remove (dpkg -r) leaves the root as it was" \
  dpkg --root="$D" --force-not-root --force-script-chrootless -r xenpci
check "deb: nothing of the package is left" uninstalled deb
# The real-Xen tier runs the .deb's binary: install it again and leave it there.
dpkg --root="$D" --force-not-root --force-script-chrootless -i "$deb_file" >/dev/null 2>&1

echo "packages: rpm $(stat -c %s "$rpm_file") bytes, deb $(stat -c %s "$deb_file") bytes"
echo "packages: $PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
