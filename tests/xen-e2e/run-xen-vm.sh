#!/bin/bash
# tests/xen-e2e/run-xen-vm.sh: boot Xen 4.17 + a PV dom0 under QEMU once (adapted from shared/xen-lab;
# run.sh calls it once per boot). Serial log: $LAB/serial-$TAG.log. Exit status: QEMU's (124 on
# timeout).
#   ACCEL=tcg(default)|kvm   (kvm cannot run Xen on the CI machine kind, see docs/reference/FINDINGS.md)
#   TCG_CPU=model            QEMU -cpu under TCG (default max)
#   IOMMU=intel|amd|none     emulated IOMMU     MODE=test|shell    TIMEOUT=seconds (default 900)
#   MEM (MiB, 2048)  SMP (2)  XENARGS / XENEXTRA (Xen command line)  DOM0ARGS (dom0 command line)
#   PERSIST_IMG=file         raw disk image attached as virtio-blk (dom0's /dev/vda)
#   TAG                      log name
#   EXTRA_DEVS="-device ..." more QEMU devices (words; the sriov boots' SR-IOV NVMe)
set -uo pipefail
LAB=${LAB:-/tmp/xenpci-e2e}
ACCEL=${ACCEL:-tcg}; IOMMU=${IOMMU:-intel}; MODE=${MODE:-test}; TIMEOUT=${TIMEOUT:-900}
MEM=${MEM:-2048}; SMP=${SMP:-2}
XENARGS=${XENARGS:-"console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all dom0_mem=768M,max:768M dom0_max_vcpus=2 iommu=verbose noreboot ${XENEXTRA-$([ "$ACCEL" = tcg ] && echo "smap=0 smep=0")}"}
DOM0ARGS=${DOM0ARGS:-"console=hvc0 earlyprintk=xen loglevel=6"}
TAG=${TAG:-$ACCEL-$IOMMU}
case $ACCEL in
  kvm) ACC=(-accel kvm -cpu "${CPU:-host,-arch-capabilities}") ;;
  tcg) ACC=(-accel tcg -cpu "${TCG_CPU:-max}") ;;
  *) echo "run-xen-vm.sh: ACCEL=$ACCEL: expected tcg or kvm" >&2; exit 2 ;;
esac
case $IOMMU in
  intel) MACH=(-machine q35,kernel-irqchip=split -device intel-iommu,intremap=on,caching-mode=on) ;;
  amd)   MACH=(-machine q35 -device amd-iommu,intremap=on) ;;
  none)  MACH=(-machine q35) ;;
  *) echo "run-xen-vm.sh: IOMMU=$IOMMU: expected intel, amd or none" >&2; exit 2 ;;
esac
[ "$ACCEL" = tcg ] && [ "$IOMMU" = intel ] && MACH=(-machine q35 -device intel-iommu,intremap=on,caching-mode=on)
DISK=()
[ -n "${PERSIST_IMG:-}" ] && DISK=(-drive "file=$PERSIST_IMG,format=raw,if=none,id=persist" -device virtio-blk-pci,drive=persist)
CMD=(qemu-system-x86_64 "${ACC[@]}" "${MACH[@]}" -m "$MEM" -smp "$SMP"
  -display none -monitor none -serial stdio -no-reboot -nic none
  -device "mptsas1068,id=sas0${SAS_ADDR:+,addr=$SAS_ADDR}" -device "e1000,id=nic1${NIC_ADDR:+,addr=$NIC_ADDR}"
  -device pcie-root-port,id=rp1,chassis=1,slot=1 -device e1000e,bus=rp1,id=nic2
  "${DISK[@]}" ${EXTRA_DEVS:-}
  -kernel "$LAB/xen" -append "$XENARGS"
  -initrd "$LAB/vmlinuz $DOM0ARGS,$LAB/dom0.cpio.gz")
echo "+ ${CMD[*]}" >&2
LOG=$LAB/serial-$TAG.log
if [ "$MODE" = shell ]; then exec "${CMD[@]}"; fi
T0=$(date +%s.%N)
timeout "$TIMEOUT" "${CMD[@]}" < /dev/null > "$LOG" 2>&1 &
QPID=$!
PEAK=0 READY=""
while kill -0 $QPID 2>/dev/null; do
  CP=$(pgrep -P $QPID qemu-system-x86 | head -1)
  [ -n "$CP" ] && R=$(awk '/VmHWM/{print $2}' /proc/$CP/status 2>/dev/null) && [ -n "$R" ] && PEAK=$R
  if [ -z "$READY" ] && grep -aq 'E2E: DOM0-READY' "$LOG" 2>/dev/null; then
    READY=$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'); echo "dom0 ready after ${READY}s (host wall clock)"; fi
  sleep 0.5
done
wait $QPID; RC=$?
echo "qemu exit rc=$RC after $(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s; peak RSS ${PEAK} kB; log $LOG"
exit "$RC"
