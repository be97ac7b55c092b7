#!/bin/bash
# tests/xen-e2e/dom0-checks-sriov.sh: SR-IOV on real Xen through xenpci itself (issue 15, FINDINGS
# §F): QEMU's SR-IOV NVMe PF (1b36:0010, 4 VFs) in dom0 on nvme. xenpci sriov lists it, sriov set
# makes VFs (2, then 3 through 0, then 2 kept by a udev rule), hide VF binds one to pciback (and
# records its rule), attach --vf-of hands it to the PV guest, sriov set 0 is refused while it is
# held; then detach, the live unhide and the live set 0 — the rules stay for sriov-reboot.
# shellcheck source=checks-lib.sh
. /e2e/checks-lib.sh
PF=$(bdf_of 1b36:0010)
SYS=/sys/bus/pci/devices/$PF
echo "E2E: PF=$PF ($(drv_of "$PF")) totalvfs=$(cat "$SYS/sriov_totalvfs" 2>/dev/null)"
vfs_now() { ls -d "$SYS"/virtfn* 2>/dev/null | wc -l; }
numvfs_is() { [ "$(cat "$SYS/sriov_numvfs")" = "$1" ] && [ "$(vfs_now)" = "$1" ]; }
vf() { basename "$(readlink "$SYS/virtfn$1")"; }

c_list() {
  [ -n "$PF" ] || fail "no 1b36:0010 in dom0's lspci" || return
  run xenpci sriov --json
  [ "$RC" -eq 0 ] || fail "xenpci sriov --json exited $RC: $(first_line "$ERR")" || return
  local st; st=$(printf '%s' "$OUT" | jq -r --arg b "$PF" '.pfs[] | select(.pf == $b) | "\(.numvfs)/\(.totalvfs) \(.driver)"')
  [ "$st" = "0/4 nvme" ] || fail "xenpci sriov for $PF: '$st' (want 0/4 nvme)" || return
  DETAIL="$PF: $st"
}
check sriov-lists-pf c_list

c_set2() {
  run xenpci sriov set "$PF" 2
  [ "$RC" -eq 0 ] || fail "sriov set $PF 2 exited $RC: $(first_line "$ERR")" || return
  wait_for 10 numvfs_is 2 || fail "sriov_numvfs=$(cat "$SYS/sriov_numvfs"), virtfn links $(vfs_now)" || return
  local x; x=$(xl dmesg | grep -c 'PCI add virtual function')
  [ "$x" -ge 2 ] || fail "xl dmesg has $x 'PCI add virtual function' lines (want 2)" || return
  lspci -D -n | grep -q "^$(vf 1) " || fail "lspci does not show $(vf 1)" || return
  DETAIL="VFs $(vf 0) $(vf 1); xl dmesg: $(xl dmesg | grep 'PCI add virtual function' | tail -n1)"
}
check sriov-set-2 c_set2

c_set3() {
  run xenpci sriov set "$PF" 3
  [ "$RC" -eq 0 ] || fail "sriov set $PF 3 exited $RC: $(first_line "$ERR")" || return
  wait_for 10 numvfs_is 3 || fail "after 2->3: sriov_numvfs=$(cat "$SYS/sriov_numvfs"), virtfn $(vfs_now)" || return
  xl dmesg | grep -q 'PCI remove device' || fail "xl dmesg has no 'PCI remove device' (2->3 not through 0?)" || return
  run xenpci sriov set "$PF" 2 --persistent
  [ "$RC" -eq 0 ] || fail "sriov set $PF 2 --persistent exited $RC: $(first_line "$ERR")" || return
  wait_for 10 numvfs_is 2 || fail "after 3->2: sriov_numvfs=$(cat "$SYS/sriov_numvfs")" || return
  [ -f "/etc/udev/rules.d/70-xenpci-sriov-$PF.rules" ] || fail "no count rule after --persistent" || return
  DETAIL="2->3 through 0 (xl dmesg: $(xl dmesg | grep 'PCI remove device' | tail -n1)); 3->2 --persistent: rule written"
}
check sriov-set-through-zero c_set3

c_hide() {
  local v; v=$(vf 0)
  run xenpci hide "$v"
  [ "$RC" -eq 0 ] || fail "xenpci hide $v exited $RC: $(first_line "$ERR")" || return
  [ "$(drv_of "$v")" = pciback ] || fail "$v on $(drv_of "$v") after hide, not pciback" || return
  [ -f "/etc/udev/rules.d/71-xenpci-hide-$PF-virtfn0.rules" ] || fail "no VF hide rule" || return
  DETAIL="$v on pciback; rule 71-xenpci-hide-$PF-virtfn0.rules"
}
check sriov-hide-vf c_hide

start_guest() {
  rm -f /var/log/xen/guest-domU.log
  xl create /guest/domU.cfg >/dev/null 2>&1 || return 1
  wait_for 90 guest_log_has domU "DOMU: up"
}
c_attach() {
  start_guest || fail "setup: xl create of the PV guest failed" || return
  run xenpci attach domU --vf-of "$PF"
  [ "$RC" -eq 0 ] || fail "xenpci attach domU --vf-of $PF exited $RC: $(first_line "$ERR")" || return
  ATT=$(printf '%s\n%s' "$OUT" "$ERR" | grep -oE '0000:02:00\.[0-7]' | grep -v "^$PF$" | head -n1)
  [ -n "$ATT" ] || fail "attach --vf-of did not say which VF: $(first_line "$OUT")" || return
  xl pci-list domU | grep -q "$ATT" || fail "xl pci-list domU lacks $ATT" || return
  wait_for 60 guest_log_has domU 1b36:0010 || fail "the guest's lspci never showed 1b36:0010" || return
  DETAIL="attached $ATT; guest: $(guest_lspci_last domU | grep 1b36:0010 | head -n1)"
}
check sriov-attach-vf-of c_attach
c_guest_nvme() {
  wait_for 20 guest_log_has domU "CSTS" || true
  DETAIL="info (FINDINGS §F, expected): guest nvme: $(grep -a 'nvme' /var/log/xen/guest-domU.log | tail -n1)"
  return 0
}
check sriov-guest-nvme-info c_guest_nvme

c_refuse0() {
  run xenpci sriov set "$PF" 0
  [ "$RC" -ne 0 ] || fail "sriov set $PF 0 exited 0 while $ATT is attached" || return
  numvfs_is 2 || fail "sriov_numvfs=$(cat "$SYS/sriov_numvfs") after the refusal" || return
  DETAIL="rc $RC: $(first_line "$ERR")"
}
check sriov-set-0-refused-in-use c_refuse0

c_cleanup() {
  run xenpci detach domU "$ATT"
  [ "$RC" -eq 0 ] || fail "xenpci detach domU $ATT exited $RC: $(first_line "$ERR")" || return
  xl destroy domU >/dev/null 2>&1
  run xenpci unhide "$ATT" --now
  [ "$RC" -eq 0 ] || fail "xenpci unhide $ATT --now exited $RC: $(first_line "$ERR")" || return
  run xenpci sriov set "$PF" 0
  [ "$RC" -eq 0 ] || fail "sriov set $PF 0 exited $RC: $(first_line "$ERR")" || return
  wait_for 10 numvfs_is 0 || fail "sriov_numvfs=$(cat "$SYS/sriov_numvfs") after set 0" || return
  ls /etc/udev/rules.d/ | grep -q xenpci || fail "the rules are gone: sriov-reboot has nothing to restore" || return
  DETAIL="detached, unhidden (live), 0 VFs; kept for the reboot: $(ls /etc/udev/rules.d | tr '\n' ' ')"
}
check sriov-detach-unhide-zero c_cleanup
