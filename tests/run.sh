#!/usr/bin/env bash
# The project's whole test suite, runnable on a fresh Debian 12 machine (README's test command):
#   1. installs the Debian packages the tests use when they are missing (needs root or sudo):
#      libxen-dev (Xen's own libxlutil, for the differential parser tests), pciutils (lspci, for the
#      inventory differential test), xen-utils-4.17 + xenstore-utils (a real oxenstored for the
#      XenStore tests), python3 (XML-RPC client for the plugin tests), and for the real-Xen tier
#      qemu-system-x86, busybox-static, cpio, kmod; ocaml-nox (OCaml Scanf oracle for the xapi reader);
#      libvirt-clients + libxml2-utils (virt-xml-validate checks the KVM hostdev XML), e2fsprogs
#      (the KVM tier's disk);
#   2. runs `cargo test` (unit, CLI, differential and real-oxenstored tests);
#   3. builds the RPM and the Debian package (scripts/package.sh), checks their contents, installs
#      each into a scratch root and runs the installed binaries (scripts/check-packages.sh);
#   4. runs the real-Xen tier (Xen 4.17 under QEMU) with the xenpci the .deb installed, unless
#      XENPCI_SKIP_E2E=1 (once more if it fails);
#   5. runs the real-kernel KVM tier (Debian's Linux 6.1 under QEMU, vfio-pci; tests/kvm-lab)
#      with the same xenpci, unless XENPCI_SKIP_KVM=1 (once more if it fails).
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(libxen-dev pciutils xen-utils-4.17 xenstore-utils python3 gcc libc6-dev procps util-linux ocaml-nox
      qemu-system-x86 busybox-static cpio gzip kmod strace rpm file binutils hyperfine e2fsprogs
      libvirt-clients libxml2-utils)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "tests/run.sh: installing ${missing[*]}"
  SUDO=
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "tests/run.sh: run as root (or install sudo) to install ${missing[*]}" >&2; exit 2; }
    SUDO=sudo
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q >/dev/null
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# The fault hooks are compiled in for the tests only (the packages are built without them).
cargo test --locked --features fault-injection

if [ "${XENPCI_SKIP_PACKAGES:-}" != 1 ]; then
  bash scripts/package.sh
  bash scripts/check-packages.sh
  # dom0 in the real-Xen tier runs the xenpci that the Debian package installed.
  export XENPCI_BIN=${XENPCI_BIN:-$PWD/target/pkg-root/deb/usr/bin/xenpci}
fi

# The performance bench (issue 18's ratios, each against its peer in the same run) is not a
# test: a missed target does not fail the run, a broken bench does. Its output is kept.
if [ "${XENPCI_SKIP_BENCH:-}" != 1 ]; then
  mkdir -p target/bench
  bash tests/bench/perf.sh | tee target/bench/perf.txt
fi

if [ "${XENPCI_SKIP_E2E:-}" != 1 ] && [ -x tests/xen-e2e/run.sh ]; then
  # The emulated Xen host (QEMU TCG) has been clean since it runs with -cpu qemu64
  # (tests/xen-e2e/README.md, "CPU model"), but a boot on a loaded machine can still time out:
  # a failed tier is run once more, and says so. The second run's verdict is final.
  if ! tests/xen-e2e/run.sh; then
    echo "tests/run.sh: the real-Xen tier failed; running it once more (the emulated host is flaky)"
    tests/xen-e2e/run.sh
  fi
fi

if [ "${XENPCI_SKIP_KVM:-}" != 1 ] && [ -x tests/kvm-lab/run.sh ]; then
  # The KVM side (issue 16): two boots of a plain Linux host with an emulated VT-d; like the Xen
  # tier, a failed run (a boot timing out on a loaded machine) is run once more, and says so.
  if ! tests/kvm-lab/run.sh; then
    echo "tests/run.sh: the real-kernel KVM tier failed; running it once more"
    tests/kvm-lab/run.sh
  fi
fi
