#!/bin/bash
# tests/xen-e2e/build-initramfs.sh: build the dom0 and domU initramfs images for xenpci's real-Xen
# tier (adapted from shared/xen-lab; run.sh calls it).
# Needs (Debian 12 packages): xen-hypervisor-4.17-amd64 xen-utils-4.17
#   xenstore-utils busybox-static linux-image-amd64 pciutils cpio
# Output goes to $LAB (default /tmp/xenlab): xen, vmlinuz, dom0.cpio.gz, domU.cpio.gz
# KROOT=dir: take the kernel, its modules and xen.gz from packages unpacked there
#   with dpkg -x (apt-get download linux-image-<ver>-amd64 xen-hypervisor-4.17-amd64),
#   instead of installed ones: no update-initramfs, no grub hooks.
# EXTRA_BINS="a b": more programs (e.g. the tool under test) copied, with their
#   shared libraries, into dom0's /usr/local/bin (on PATH there).
# DOM0_SCRIPTS="a.sh b.sh": check scripts copied to dom0's /e2e/ (dom0-init.sh runs the one
#   named by e2escript=NAME on the dom0 command line); checks-lib.sh always goes along.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
LAB=${LAB:-/tmp/xenpci-e2e}
KROOT=${KROOT:-/}
KROOT=${KROOT%/}
KVER=${KVER:-$(ls "$KROOT/lib/modules" | sort -V | tail -1)}
XENBIN=/usr/lib/xen-4.17/bin
mkdir -p "$LAB"
if [ -n "$KROOT" ] && [ ! -f "$KROOT/lib/modules/$KVER/modules.dep" ]; then depmod -b "$KROOT" "$KVER"; fi
MODPROBE=(modprobe -S "$KVER"); [ -n "$KROOT" ] && MODPROBE+=(-d "$KROOT")

# Xen itself: QEMU's -kernel multiboot(1) loader takes the 32-bit ELF inside xen.gz
zcat "$KROOT/boot/xen-4.17-amd64.gz" > "$LAB/xen"
cp "$KROOT/boot/vmlinuz-$KVER" "$LAB/vmlinuz"

copy_bin() { # copy binaries plus their shared libraries into $ROOT
  local f l
  for f in "$@"; do
    mkdir -p "$ROOT$(dirname "$f")"
    cp -L "$f" "$ROOT$f"
    for l in $(ldd "$f" 2>/dev/null | grep -oE '/[^ ]+' ); do
      [ -e "$ROOT$l" ] && continue
      mkdir -p "$ROOT$(dirname "$l")"; cp -L "$l" "$ROOT$l"
    done
  done
}
copy_mod() { # copy kernel modules (and deps, in load order) listed by name
  local m p
  for m in "$@"; do
    for p in $("${MODPROBE[@]}" --show-depends "$m" | awk '$1=="insmod"{print $2}'); do
      local q=${p#"$KROOT"}   # path inside the initramfs
      mkdir -p "$ROOT$(dirname "$q")"; cp "$p" "$ROOT$q"
      grep -qxF "$q" "$ROOT/etc/modules.order" 2>/dev/null || echo "$q" >> "$ROOT/etc/modules.order"
    done
  done
}
base_root() {
  rm -rf "$ROOT"; mkdir -p "$ROOT"/{bin,sbin,etc,proc,sys,dev,tmp,run,var/run,var/log,var/lib,root,usr/bin,usr/sbin}
  cp /bin/busybox "$ROOT/bin/busybox"
  for a in $(/bin/busybox --list); do [ -e "$ROOT/bin/$a" ] || ln -s busybox "$ROOT/bin/$a"; done
  : > "$ROOT/etc/modules.order"
}

########## domU (tiny PV guest) ##########
ROOT=$LAB/domU-root
base_root
copy_mod xen-pcifront e1000 e1000e mptsas nvme
copy_bin /usr/bin/lspci
mkdir -p "$ROOT/usr/share/misc"; cp /usr/share/misc/pci.ids "$ROOT/usr/share/misc/" 2>/dev/null || true
cp "$HERE/domU-init.sh" "$ROOT/init"; chmod +x "$ROOT/init"
(cd "$ROOT" && find . | cpio -o -H newc --quiet | gzip -1) > "$LAB/domU.cpio.gz"

########## dom0 ##########
ROOT=$LAB/dom0-root
base_root
# virtio first: dom0-init.sh restores the persisted /etc/modprobe.d from /dev/vda before pciback loads
copy_mod virtio_pci virtio_blk xen-evtchn xen-privcmd xen-gntdev xen-gntalloc xenfs xen-pciback e1000 e1000e mptsas nvme
# real kmod (modprobe reads /etc/modprobe.d, e.g. "options xen-pciback hide=(...)")
copy_bin /usr/bin/kmod
for b in modprobe depmod lsmod modinfo; do ln -sf /usr/bin/kmod "$ROOT/sbin/$b"; done
cp "$KROOT/lib/modules/$KVER"/modules.builtin* "$KROOT/lib/modules/$KVER/modules.order" "$ROOT/lib/modules/$KVER/" 2>/dev/null || true
# modules.dep now, on the host: depmod inside dom0 under TCG costs tens of seconds per boot
depmod -b "$ROOT" "$KVER"
mkdir -p "$ROOT/etc/modprobe.d"
copy_bin $XENBIN/xl $XENBIN/xenstored $XENBIN/xenconsoled $XENBIN/xen-init-dom0 \
         $XENBIN/libxl-save-helper $XENBIN/xenconsole \
         /usr/bin/xenstore-read /usr/bin/xenstore-write /usr/bin/xenstore-ls \
         /usr/bin/xenstore-list /usr/bin/xenstore-rm /usr/bin/xenstore \
         /usr/bin/lspci /usr/bin/setpci /usr/bin/bash
ln -sf /usr/bin/bash "$ROOT/bin/bash"
# glibc dlopen()s libgcc_s for pthread_cancel; xl create aborts without it
cp -L /lib/x86_64-linux-gnu/libgcc_s.so.1 "$ROOT/lib/x86_64-linux-gnu/"
for b in xl xenstored xenconsoled xen-init-dom0 xenconsole; do ln -sf $XENBIN/$b "$ROOT/usr/sbin/$b"; done
mkdir -p "$ROOT/usr/lib/xen-4.17/bin"
# libxl runs the save/restore helper (migration, save) from this fixed path; copy_bin put it at $XENBIN
[ "$XENBIN" = /usr/lib/xen-4.17/bin ] || ln -sf $XENBIN/libxl-save-helper "$ROOT/usr/lib/xen-4.17/bin/"
cp -a /etc/xen "$ROOT/etc/"
mkdir -p "$ROOT/usr/share/misc"; cp /usr/share/misc/pci.ids "$ROOT/usr/share/misc/" 2>/dev/null || true
mkdir -p "$ROOT/var/lib/xen" "$ROOT/var/log/xen" "$ROOT/var/run/xen" "$ROOT/var/run/xenstored" "$ROOT/var/lock" "$ROOT/guest"
cp "$LAB/vmlinuz" "$LAB/domU.cpio.gz" "$ROOT/guest/"
cp "$HERE/dom0-init.sh" "$ROOT/init"; chmod +x "$ROOT/init"
mkdir -p "$ROOT/e2e"
for f in "$HERE/checks-lib.sh" ${DOM0_SCRIPTS:-"$HERE/dom0-checks.sh"}; do cp "$f" "$ROOT/e2e/"; done
# the shipped systemd units: the sriov-reboot boot runs xenpci-sriov.service's ExecStart as systemd would
cp "$HERE/../../scripts/systemd/"*.service "$ROOT/e2e/"
for b in ${EXTRA_BINS:-}; do
  copy_bin "$b"; mkdir -p "$ROOT/usr/local/bin"; mv "$ROOT$b" "$ROOT/usr/local/bin/"
done
cp "$HERE/domU.cfg" "$ROOT/guest/domU.cfg"
echo 'root:x:0:0:root:/root:/bin/sh' > "$ROOT/etc/passwd"
(cd "$ROOT" && find . | cpio -o -H newc --quiet | gzip -1) > "$LAB/dom0.cpio.gz"
ls -la "$LAB"/{xen,vmlinuz,dom0.cpio.gz,domU.cpio.gz}
