#!/bin/sh
# The checks inside the KVM lab host (tests/kvm-lab/run.sh), run by its init as root with the real
# sysfs; $BOOT is 1 or 2. One line per check: `KVM-OK name` or `KVM-FAIL name: why`; `INFO ...`
# lines show what xenpci printed.
ok() { echo "KVM-OK $1"; }
bad() { echo "KVM-FAIL $1: $2"; }
check() { name=$1; shift; if "$@"; then ok "$name"; else bad "$name" "failed: $*"; fi; }
drv() { basename "$(readlink /sys/bus/pci/devices/$1/driver)" 2>/dev/null; }
grp() { basename "$(readlink /sys/bus/pci/devices/$1/iommu_group)"; }
by_id() { for d in /sys/bus/pci/devices/*; do [ "$(cat $d/vendor):$(cat $d/device)" = "$1" ] && basename $d; done; }
info() { sed 's/^/INFO /'; }

NICS=$(by_id 0x8086:0x10d3)
NIC=$(echo $NICS | cut -d' ' -f1); TWIN=$(echo $NICS | cut -d' ' -f2)
SAS=$(by_id 0x1b36:0x0010)
G=$(grp $NIC)
echo "INFO boot $BOOT: nic $NIC (group $G, $(drv $NIC)), twin $TWIN ($(drv $TWIN)), disk controller $SAS (nvme) ($(drv $SAS)), groups $(ls /sys/kernel/iommu_groups | wc -l)"
R=/etc/udev/rules.d/61-xenpci-vfio.rules

if [ "$BOOT" = 1 ]; then
  xenpci check > /tmp/host.txt 2>&1; rc=$?; info < /tmp/host.txt
  check host-check-passes [ $rc = 0 ]
  check host-check-says-kvm grep -q '^toolstack  kvm' /tmp/host.txt
  check host-check-kernel-iommu grep -q 'kernel     IOMMU active (DMAR' /tmp/host.txt
  check host-check-vfio-available grep -q '^vfio       available, loaded' /tmp/host.txt

  xenpci check $NIC > /tmp/c.txt 2>&1; rc=$?; info < /tmp/c.txt
  check check-nic-passable [ $rc = 0 ]
  check check-nic-kernel-group grep -q "kernel IOMMU group $G (/dev/vfio/$G)" /tmp/c.txt

  xenpci hide $SAS --now > /tmp/s.txt 2>&1; rc=$?; info < /tmp/s.txt
  check disk-controller-refused [ $rc = 1 ]
  check disk-controller-refused-why grep -q "refusing to hide $SAS: dom0 needs it: holds /persist" /tmp/s.txt
  check disk-controller-still-bound [ "$(drv $SAS)" = nvme ]

  xenpci hide $NIC --now > /tmp/h.txt 2>&1; rc=$?; info < /tmp/h.txt
  check hide-now-exit-0 [ $rc = 0 ]
  check hide-now-bound-vfio [ "$(drv $NIC)" = vfio-pci ]
  check hide-now-dev-vfio-appears [ -c /dev/vfio/$G ]
  check hide-now-twin-untouched [ "$(drv $TWIN)" = e1000e ]
  echo "INFO /dev/vfio: $(ls /dev/vfio | tr '\n' ' ')"

  xenpci hidden > /tmp/hd.txt 2>&1; info < /tmp/hd.txt
  check hidden-now-lost-at-reboot grep -q "$NIC  now: vfio-pci .*hidden now but lost at reboot" /tmp/hd.txt

  xenpci libvirt-xml $NIC > /tmp/x.xml 2>/tmp/x.err; rc=$?; info < /tmp/x.xml
  bus=$(echo $NIC | cut -d: -f2)
  check libvirt-xml grep -q "<address domain='0x0000' bus='0x$bus' slot='0x00' function='0x0'/>" /tmp/x.xml
  xenpci vfio-acl $NIC > /tmp/acl.txt 2>&1; info < /tmp/acl.txt
  check vfio-acl grep -q "\"/dev/vfio/$G\"," /tmp/acl.txt
  xenpci one-filter $NIC > /tmp/one.txt 2>&1; info < /tmp/one.txt
  check one-filter grep -q "^:filter: '8086:10d3:0200'\$" /tmp/one.txt

  # A process holding the group open (what QEMU does for a guest) makes the device in use.
  sleep 120 3<>/dev/vfio/$G & HOLD=$!
  sleep 1
  xenpci unhide $NIC --now > /tmp/busy.txt 2>&1; rc=$?; info < /tmp/busy.txt
  check unhide-refused-while-group-open [ $rc = 1 ]
  check unhide-refused-names-the-process grep -q "its vfio group /dev/vfio/$G is open by sleep (pid $HOLD)" /tmp/busy.txt
  check unhide-refused-still-on-vfio [ "$(drv $NIC)" = vfio-pci ]
  kill $HOLD; wait $HOLD 2>/dev/null

  xenpci unhide $NIC --now > /tmp/u.txt 2>&1; rc=$?; info < /tmp/u.txt
  check unhide-now-exit-0 [ $rc = 0 ]
  check unhide-now-back-on-e1000e [ "$(drv $NIC)" = e1000e ]
  check unhide-now-override-cleared [ "$(cat /sys/bus/pci/devices/$NIC/driver_override)" = "(null)" ]
  check unhide-now-dev-vfio-gone [ ! -e /dev/vfio/$G ]

  # A whole group with a bridge in it: q35's ICH9 functions (LPC bridge, SATA, SMBus) share one.
  SMB=$(by_id 0x8086:0x2930); SATA=$(by_id 0x8086:0x2922); LPC=$(by_id 0x8086:0x2918); GI=$(grp $SMB)
  echo "INFO ich9 group $GI: $(ls /sys/kernel/iommu_groups/$GI/devices | tr '\n' ' ')"
  xenpci hide $SMB --now > /tmp/g.txt 2>&1; rc=$?; info < /tmp/g.txt
  check group-hide-exit-0 [ $rc = 0 ]
  check group-sibling-added grep -q "$SATA added: it shares its isolation group with $SMB" /tmp/g.txt
  check group-bridge-left grep -q "$LPC (a bridge in IOMMU group $GI) stays on its driver" /tmp/g.txt
  check group-both-on-vfio [ "$(drv $SMB) $(drv $SATA)" = "vfio-pci vfio-pci" ]
  check group-bridge-not-on-vfio [ "$(drv $LPC)" != vfio-pci ]
  check group-dev-vfio [ -c /dev/vfio/$GI ]
  xenpci unhide $SMB $SATA --now > /tmp/gu.txt 2>&1; rc=$?; info < /tmp/gu.txt
  check group-unhide-exit-0 [ $rc = 0 ]
  check group-unhide-smbus-off-vfio [ "$(drv $SMB)" != vfio-pci ]
  check group-unhide-sata-off-vfio [ "$(drv $SATA)" != vfio-pci ]
  check group-unhide-dev-vfio-gone [ ! -e /dev/vfio/$GI ]

  # Both: now and for every boot.
  xenpci hide $NIC > /tmp/p.txt 2>&1; rc=$?; info < /tmp/p.txt
  check hide-persistent-exit-0 [ $rc = 0 ]
  check hide-persistent-bound-vfio [ "$(drv $NIC)" = vfio-pci ]
  check rule-names-the-nic grep -q "KERNEL==\"$NIC\"" $R
  check rule-not-the-twin sh -c "! grep -q 'KERNEL==\"$TWIN\"' $R"
  check rule-no-ids sh -c "! grep -qi '10d3' $R"
  check initramfs-modules grep -qx vfio_pci /etc/initramfs-tools/modules
  info < $R
  mkdir -p /persist/carry/etc/udev/rules.d /persist/carry/etc/initramfs-tools /persist/carry/var/lib
  cp $R /persist/carry/etc/udev/rules.d/
  cp /etc/initramfs-tools/modules /persist/carry/etc/initramfs-tools/
  cp -a /var/lib/xenpci /persist/carry/var/lib/
elif [ "$BOOT" = 3 ]; then
  # No IOMMU: what seed 003 starts from.
  mkdir -p /etc/default
  printf 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX=""\n' > /etc/default/grub
  xenpci check > /tmp/host.txt 2>&1; rc=$?; info < /tmp/host.txt
  check noiommu-host-check-exit-1 [ $rc = 1 ]
  check noiommu-host-check-says-so grep -q 'kernel     IOMMU NOT active' /tmp/host.txt
  xenpci hide $TWIN --persistent > /tmp/p.txt 2>&1; rc=$?; info < /tmp/p.txt
  check noiommu-hide-persistent-exit-0 [ $rc = 0 ]
  check noiommu-grub-option grep -q '^GRUB_CMDLINE_LINUX_DEFAULT="quiet intel_iommu=on iommu=pt"$' /etc/default/grub
  check noiommu-update-grub-ran grep -q '^update-grub' /tmp/lab-tools.log
  check noiommu-rule-names-twin grep -q "KERNEL==\"$TWIN\"" $R
  xenpci hide $TWIN --now > /tmp/n.txt 2>&1; rc=$?; info < /tmp/n.txt
  check noiommu-live-bind-fails [ $rc = 1 ]
  check noiommu-live-rolled-back-to-e1000e [ "$(drv $TWIN)" = e1000e ]
  check noiommu-live-override-cleared [ "$(cat /sys/bus/pci/devices/$TWIN/driver_override)" = "(null)" ]
else
  check reboot-rule-carried [ -f $R ]
  check reboot-nic-on-vfio [ "$(drv $NIC)" = vfio-pci ]
  check reboot-twin-on-e1000e [ "$(drv $TWIN)" = e1000e ]
  check reboot-dev-vfio [ -c /dev/vfio/$G ]
  xenpci hidden > /tmp/hd.txt 2>&1; info < /tmp/hd.txt
  check reboot-hidden-status grep -q "$NIC  now: vfio-pci .*hidden$" /tmp/hd.txt
  xenpci unhide $NIC > /tmp/u.txt 2>&1; rc=$?; info < /tmp/u.txt
  check reboot-unhide-exit-0 [ $rc = 0 ]
  check reboot-unhide-back-on-e1000e [ "$(drv $NIC)" = e1000e ]
  check reboot-unhide-rule-removed [ ! -e $R ]
  rm -rf /persist/carry
fi
