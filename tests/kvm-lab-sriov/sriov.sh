#!/bin/sh
# Payload for shared/kvm-lab (a real Linux 6.1 kernel under QEMU with an SR-IOV NVMe PF at
# 0000:02:00.0, sriov_totalvfs 4): `xenpci sriov` and `sriov set` against the real sysfs.
#   TESTS=tests/kvm-lab-sriov/sriov.sh BINS=target/x86_64-unknown-linux-musl/release/xenpci \
#     bash /work/shared/kvm-lab/run.sh
# Every step prints "SRIOV-STEP ok|FAIL ..." for the caller to grep.
PF=0000:02:00.0
step() { want=$1; shift; echo "----- \$ $*"; "$@"; rc=$?
  case "$want:$rc" in ok:0) v=ok ;; ok:*) v=FAIL ;; fail:0) v=FAIL ;; *) v=ok ;; esac
  echo "SRIOV-STEP $v rc=$rc $*"; }
step ok xenpci sriov
step ok xenpci sriov $PF --json
step ok xenpci sriov set $PF 2 --dry-run
step ok xenpci sriov set 02:00.0 2
sleep 1
step ok ls -d /sys/bus/pci/devices/0000:02:00.1 /sys/bus/pci/devices/0000:02:00.2
step ok xenpci sriov $PF
step ok xenpci check 02:00.1
# 2 -> 3 must go through 0 (a direct write is EBUSY)
step fail sh -c "echo 3 > /sys/bus/pci/devices/$PF/sriov_numvfs"
step ok xenpci sriov set $PF 3
step ok cat /sys/bus/pci/devices/$PF/sriov_numvfs
step fail xenpci sriov set $PF 5
step ok xenpci sriov set $PF 4 --persistent --dry-run
step ok xenpci sriov set 02:00.0 0
step ok cat /sys/bus/pci/devices/$PF/sriov_numvfs
step fail ls -d /sys/bus/pci/devices/0000:02:00.1
# The VF hide rule's command, as udev would run it on each new VF, with vfio-pci standing in for
# pciback (no Xen here): only virtfn1's VF (02:00.2) may end up bound, 02:00.1 left alone.
step ok xenpci sriov set $PF 2
xenpci hide --persistent --dry-run 0000:02:00.2 > /tmp/hide.txt 2>&1; cat /tmp/hide.txt
body=$(grep '^+ACTION' /tmp/hide.txt | sed -e "s/.*RUN+=\"\/bin\/sh -c '\(.*\)'\"\$/\1/" -e 's/\\"/"/g' -e 's/\$\$/$/g' -e 's/pciback/vfio-pci/g')
echo "LAB: rule body: $body"
for k in 0000:02:00.1 0000:02:00.2; do
  p=$(readlink -f /sys/bus/pci/devices/$k); p=${p#/sys}
  cmd=$(echo "$body" | sed -e "s|%p|$p|g" -e "s|%k|$k|g")
  step ok sh -c "$cmd"
  echo "LAB: $k driver=$(basename "$(readlink /sys/bus/pci/devices/$k/driver)" 2>/dev/null) override=$(cat /sys/bus/pci/devices/$k/driver_override)"
done
step ok xenpci sriov set $PF 0
