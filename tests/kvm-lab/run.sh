#!/bin/bash
# tests/kvm-lab/run.sh: xenpci's real-kernel KVM tier. Boots Debian 12's own Linux 6.1 (no Xen)
# under QEMU TCG with an emulated Intel VT-d IOMMU (real kernel IOMMU groups, real vfio-pci), a
# busybox initramfs holding xenpci, and two e1000e NICs (identical ids) behind their own root
# ports, and an NVMe controller whose namespace holds the "host's" filesystem (mounted).
# Three boots share that disk: the first hides a NIC live and persistently, the second checks it
# comes up on vfio-pci (and its twin on e1000e), then gives it back; the third has the IOMMU off:
# check says so, a persistent hide turns it on in /etc/default/grub, and a live bind to vfio-pci
# fails and is rolled back onto e1000e. One verdict per check
# (KVM-OK / KVM-FAIL lines), then exactly `N passed, N failed`; exit 0 only when nothing failed and
# every boot finished. The approach is the one of the project's shared kvm-lab, vendored here so a
# clean checkout runs it.
#
# Knobs (environment):
#   XENPCI_KVM_DIR      work dir (default /tmp/xenpci-kvmlab)
#   XENPCI_BIN          a prebuilt xenpci (default: cargo build --release --bin xenpci)
#   XENPCI_KVM_KROOT    an unpacked Debian linux-image package (default: apt-get download + dpkg -x)
#   XENPCI_KVM_TIMEOUT  seconds per boot (default 300)
set -uo pipefail
main() {
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
LAB=${XENPCI_KVM_DIR:-/tmp/xenpci-kvmlab}
TIMEOUT=${XENPCI_KVM_TIMEOUT:-300}
mkdir -p "$LAB"
say() { echo "kvm-lab: $*"; }
die() { echo "kvm-lab: error: $*" >&2; echo "0 passed, 1 failed"; exit 1; }

for t in qemu-system-x86_64 busybox cpio modprobe depmod mkfs.ext4 gzip; do
  command -v "$t" >/dev/null || die "needs $t (Debian: qemu-system-x86 busybox-static cpio kmod e2fsprogs gzip)"
done
BUSYBOX=$(command -v busybox)
if [ -n "${XENPCI_BIN:-}" ]; then BIN=$XENPCI_BIN; else
  say "cargo build --release --bin xenpci"
  (cd "$REPO" && cargo build --release --bin xenpci -q) || die "cargo build failed"
  BIN=$REPO/target/release/xenpci
fi
[ -x "$BIN" ] || die "no xenpci at $BIN"

KROOT=${XENPCI_KVM_KROOT:-}
if [ -z "$KROOT" ]; then
  KV=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
  [ -n "$KV" ] || die "cannot find Debian's kernel package (apt-cache depends linux-image-amd64)"
  if [ ! -d "$LAB/pkgs/root/boot" ]; then
    rm -rf "$LAB/pkgs"; mkdir -p "$LAB/pkgs"
    (cd "$LAB/pkgs" && apt-get download -q -o APT::Sandbox::User=root "$KV" >/dev/null && dpkg -x ./*.deb root) \
      || die "apt-get download $KV failed"
  fi
  KROOT=$LAB/pkgs/root
fi
KVER=$(ls "$KROOT/lib/modules" | sort -V | tail -1)
[ -f "$KROOT/lib/modules/$KVER/modules.dep" ] || depmod -b "$KROOT" "$KVER"

# The initramfs: busybox, the modules (in dependency order), xenpci and its libraries, the checks.
ROOT=$LAB/root; rm -rf "$ROOT"; mkdir -p "$ROOT"/{bin,sbin,etc,proc,sys,dev,tmp,run,persist,usr/local/bin}
cp "$BUSYBOX" "$ROOT/bin/busybox"
for a in $("$BUSYBOX" --list); do [ -e "$ROOT/bin/$a" ] || ln -s busybox "$ROOT/bin/$a"; done
: > "$ROOT/etc/modules.order"
for m in nvme ext4 vfio vfio_iommu_type1 vfio_pci e1000e; do
  deps=$(modprobe -d "$KROOT" -S "$KVER" --show-depends "$m") || die "no module $m in $KROOT"
  for p in $(echo "$deps" | awk '$1=="insmod"{print $2}'); do
    q=${p#"$KROOT"}; mkdir -p "$ROOT$(dirname "$q")"; cp "$p" "$ROOT$q"
    grep -qxF "$q" "$ROOT/etc/modules.order" || echo "$q" >> "$ROOT/etc/modules.order"
  done
done
# The modules of the host's disk first, vfio before the NIC driver (what an initramfs with
# vfio in it does), e1000e last.
grep -v 'e1000e' "$ROOT/etc/modules.order" > "$ROOT/etc/modules.early"
grep 'e1000e' "$ROOT/etc/modules.order" > "$ROOT/etc/modules.late"
mkdir -p "$ROOT/lib/modules/$KVER"
cp "$KROOT/lib/modules/$KVER/modules.dep" "$KROOT/lib/modules/$KVER/modules.builtin" "$ROOT/lib/modules/$KVER/" 2>/dev/null
cp -L "$BIN" "$ROOT/usr/local/bin/xenpci"
for l in $(ldd "$BIN" 2>/dev/null | grep -oE '/[^ ]+'); do mkdir -p "$ROOT$(dirname "$l")"; cp -Ln "$l" "$ROOT$l" 2>/dev/null || true; done
# Stand-ins, said as such: libvirt is "installed" (its config directory: what makes a KVM host
# without /dev/kvm, which TCG has not), and update-initramfs records its call (no initramfs-tools
# here; the initramfs of this lab is built by this script).
mkdir -p "$ROOT/etc/libvirt" "$ROOT/etc/initramfs-tools"
printf '# List of modules that you want to include in your initramfs.\n' > "$ROOT/etc/initramfs-tools/modules"
printf '#!/bin/sh\necho "LAB-TOOL update-initramfs $*"\n' > "$ROOT/usr/local/bin/update-initramfs"
printf '#!/bin/sh\necho "update-grub $*" >> /tmp/lab-tools.log\n' > "$ROOT/usr/local/bin/update-grub"
printf '#!/bin/sh\necho "LAB-TOOL modprobe $*"\nexec /bin/busybox modprobe "$@"\n' > "$ROOT/usr/local/bin/modprobe"
chmod +x "$ROOT/usr/local/bin/"*
cp "$HERE/checks.sh" "$ROOT/checks.sh"
cat > "$ROOT/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev; mkdir -p /run/lock
echo "$(uname -r)" > /dev/null
export PATH=/usr/local/bin:/bin:/sbin
for m in $(cat /etc/modules.early); do insmod "$m" 2>/dev/null; done
for i in $(seq 1 60); do [ -b /dev/nvme0n1 ] && break; sleep 1; done
if ! mount -t ext4 /dev/nvme0n1 /persist; then
  echo "KVM-FAIL boot: cannot mount the disk /dev/nvme0n1 (partitions: $(tr '\n' ' ' < /proc/partitions))"
  echo KVMLAB-DONE; poweroff -f
fi
BOOT=$(cat /persist/boot-count 2>/dev/null || echo 0); BOOT=$((BOOT + 1)); echo $BOOT > /persist/boot-count
# What the previous boot left on the disk comes back to its place (the host's own files).
[ -d /persist/carry ] && cp -a /persist/carry/. /
# The NIC driver before the rules run: it takes both identical NICs first, as a driver built in,
# loaded from the initramfs or for the twin does; the rule must take the chosen one back.
for m in $(cat /etc/modules.late); do insmod "$m" 2>/dev/null; done
# udev's coldplug, as far as xenpci's rules go: for each rule, its ATTR{driver_override} is
# written (udev applies ATTR while matching the add event), then its RUN program runs with %k the
# device (RUN{builtin} kmod load vfio-pci: vfio-pci is already loaded here, as from an initramfs
# holding it). The rule's own text is executed, not a copy of what it means.
R=/etc/udev/rules.d/61-xenpci-vfio.rules
if [ -f $R ]; then
  grep '^ACTION=="add"' $R | while read -r line; do
    dev=$(echo "$line" | sed -n 's/.*KERNEL=="\([^"]*\)".*/\1/p')
    drv=$(echo "$line" | sed -n 's/.*ATTR{driver_override}="\([^"]*\)".*/\1/p')
    run=$(echo "$line" | sed -n 's/.*RUN+="\/bin\/sh -c .\(.*\).".*/\1/p' | sed "s/'\$//; s/%k/$dev/g")
    [ -e /sys/bus/pci/devices/$dev/driver_override ] || continue
    echo "LAB-UDEV $dev is on $(basename "$(readlink /sys/bus/pci/devices/$dev/driver)" 2>/dev/null) before its rule"
    echo "$drv" > /sys/bus/pci/devices/$dev/driver_override
    echo "LAB-UDEV $dev driver_override=$drv; RUN: $run"
    [ -n "$run" ] && sh -c "$run"
  done
fi
sleep 1
BOOT=$BOOT sh /checks.sh
sync; umount /persist; echo KVMLAB-DONE; poweroff -f
INIT
chmod +x "$ROOT/init"
(cd "$ROOT" && find . | cpio -o -H newc --quiet | gzip -1) > "$LAB/initrd.gz" || die "cpio failed"
IMG=$LAB/disk.img; rm -f "$IMG"
truncate -s 64M "$IMG" && mkfs.ext4 -q -F "$IMG" || die "mkfs.ext4 failed"

pass=0; fail=0; done_boots=0
for boot in 1 2 3; do
  say "boot $boot"
  # Boot 3: the same host with the IOMMU off (no VT-d, no intel_iommu=on) and an Intel CPU id.
  if [ $boot = 3 ]; then IOM=(); KARG=""; CPU=qemu64,vendor=GenuineIntel; else
    IOM=(-device intel-iommu,intremap=on,caching-mode=on); KARG="intel_iommu=on"; CPU=qemu64; fi
  timeout "$TIMEOUT" qemu-system-x86_64 -accel tcg -cpu "$CPU" -machine q35 \
    "${IOM[@]}" -m 1024 -smp 2 \
    -display none -monitor none -serial stdio -no-reboot -nic none \
    -device pcie-root-port,id=rp1,chassis=1,slot=1 -device e1000e,bus=rp1,id=nic \
    -device pcie-root-port,id=rp2,chassis=2,slot=2 -drive file="$IMG",if=none,id=d0,format=raw \
    -device nvme,serial=lab0,bus=rp2,drive=d0 \
    -device pcie-root-port,id=rp3,chassis=3,slot=3 -device e1000e,bus=rp3,id=twin \
    -kernel "$KROOT/boot/vmlinuz-$KVER" -initrd "$LAB/initrd.gz" \
    -append "console=ttyS0 $KARG loglevel=3 no_timer_check" > "$LAB/boot$boot.log" 2>&1
  tr -d '\r' < "$LAB/boot$boot.log" | grep -E '^(KVM-|LAB-|INFO )' | sed "s/^/  [boot $boot] /"
  p=$(tr -d '\r' < "$LAB/boot$boot.log" | grep -c '^KVM-OK ')
  f=$(tr -d '\r' < "$LAB/boot$boot.log" | grep -c '^KVM-FAIL ')
  pass=$((pass + p)); fail=$((fail + f))
  if tr -d '\r' < "$LAB/boot$boot.log" | grep -q '^KVMLAB-DONE'; then done_boots=$((done_boots + 1)); else
    say "boot $boot did not finish (see $LAB/boot$boot.log)"; fail=$((fail + 1)); fi
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ] && [ "$done_boots" = 3 ]
}
main "$@"
