#!/bin/sh
# tests/xen-e2e/dom0-init.sh: PID 1 of the dom0 initramfs (adapted from shared/xen-lab): bring up
# the Xen toolstack, then run the boot's check script (e2escript=NAME) or a shell.
#
# Dom0 command-line switches:
#   e2escript=NAME   run /e2e/NAME (a dom0-checks*.sh), print "E2E: BOOT-DONE", power off
#   e2epersist=1     /dev/vda (virtio disk from run.sh) holds a tar of /etc/modprobe.d: restore it
#                    before any Xen module loads, save it back before power-off (the "reboot")
#   labmodprobe=1    load the modules with modprobe (reads /etc/modprobe.d), not insmod
#   labhide=BDF,...  hide devices when xen-pciback loads (insmod hide= / modprobe.d options)
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mkdir -p /dev/pts; mount -t devpts devpts /dev/pts
mount -t tmpfs tmp /tmp; mount -t tmpfs run /run; mkdir -p /run/xen /run/xenstored
mount --bind /run /var/run
hostname xenpci-e2e   # what xenpci names this host in its messages (busybox leaves "(none)")
echo "E2E: dom0 init start uptime=$(cut -d' ' -f1 /proc/uptime)"
PERSIST=""; grep -q 'e2epersist=1' /proc/cmdline && PERSIST=/dev/vda
if [ -n "$PERSIST" ]; then
  for m in $(grep virtio /etc/modules.order); do insmod "$m" 2>/dev/null; done
  for i in 1 2 3 4 5 6 7 8 9 10; do [ -b "$PERSIST" ] && break; sleep 0.2; done
  if [ -b "$PERSIST" ]; then
    tar -xf "$PERSIST" -C / 2>/dev/null && echo "E2E: restored from $PERSIST: $(ls -A /etc/modprobe.d | tr '\n' ' ')"
  else
    echo "E2E: no $PERSIST: nothing persists across boots"; PERSIST=""
  fi
fi
HIDE=$(sed -n 's/.*labhide=\([^ ]*\).*/\1/p' /proc/cmdline)
HIDEARG=""; for b in $(echo "$HIDE" | tr ',' ' '); do HIDEARG="$HIDEARG($b)"; done
if grep -q 'labmodprobe=1' /proc/cmdline; then
  [ -f "/lib/modules/$(uname -r)/modules.dep" ] || depmod -a
  [ -n "$HIDEARG" ] && echo "options xen-pciback hide=$HIDEARG" > /etc/modprobe.d/xen-pciback.conf
  for f in /etc/modprobe.d/*.conf; do [ -f "$f" ] && echo "E2E: $f: $(cat "$f")"; done
  while read -r m; do n=$(basename "$m" .ko); modprobe "$n" || echo "E2E: modprobe $n failed"; done < /etc/modules.order
else
  while read -r m; do
    case $m in
      */xen-pciback.ko) [ -n "$HIDEARG" ] && set -- "hide=$HIDEARG" || set -- ;;
      *) set -- ;;
    esac
    insmod "$m" "$@" 2>/dev/null || grep -q "^$(basename "$m" .ko | tr - _) " /proc/modules || echo "E2E: insmod $m failed"
  done < /etc/modules.order
fi
mount -t xenfs xenfs /proc/xen || echo "E2E: no xenfs"
if [ -e /proc/xen/privcmd ] || [ -e /dev/xen/privcmd ]; then
  xenstored --pid-file /run/xenstored.pid || echo "E2E: xenstored failed"
  xen-init-dom0 || echo "E2E: xen-init-dom0 failed"
  xenconsoled --pid-file=/run/xenconsoled.pid --log=guest --log-dir=/var/log/xen || echo "E2E: xenconsoled failed"
fi
echo "E2E: DOM0-READY uptime=$(cut -d' ' -f1 /proc/uptime)"
SCRIPT=$(sed -n 's/.*e2escript=\([^ ]*\).*/\1/p' /proc/cmdline)
if [ -n "$SCRIPT" ]; then
  /bin/bash "/e2e/$SCRIPT" 2>&1
  if [ -n "$PERSIST" ]; then
    # /etc/modprobe.d (the persistent hide) and /var/lib/xenpci (the identities xenpci recorded)
    # and /etc/udev/rules.d (xenpci's SR-IOV count and VF hide rules)
    mkdir -p /var/lib/xenpci /etc/udev/rules.d
    (cd / && tar -cf "$PERSIST" etc/modprobe.d var/lib/xenpci etc/udev/rules.d) && echo "E2E: saved /etc/modprobe.d, /var/lib/xenpci and /etc/udev/rules.d to $PERSIST"
  fi
  echo "E2E: BOOT-DONE uptime=$(cut -d' ' -f1 /proc/uptime)"
  sync; poweroff -f
fi
echo "E2E: DOM0-SHELL-READY"
exec setsid cttyhack /bin/sh
