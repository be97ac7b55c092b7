#!/bin/bash
# tests/xen-e2e/dom0-checks-sriov-reboot.sh: the boot after `sriov` (issue 15): /etc/udev/rules.d
# came back from persist.img, but this dom0 has no udev — so the VF count and the VF's hide come
# back only through the shipped scripts/systemd/xenpci-sriov.service, whose ExecStart this runs as
# systemd would (before any guest).
# shellcheck source=checks-lib.sh
. /e2e/checks-lib.sh
PF=$(bdf_of 1b36:0010)
SYS=/sys/bus/pci/devices/$PF
echo "E2E: PF=$PF ($(drv_of "$PF")); rules: $(ls /etc/udev/rules.d 2>/dev/null | tr '\n' ' ')"

c_restore() {
  [ -f "/etc/udev/rules.d/70-xenpci-sriov-$PF.rules" ] ||
    { DETAIL="skip: no count rule: the sriov boot did not run first"; return 2; }
  local before; before=$(cat "$SYS/sriov_numvfs")
  local cmd; cmd=$(sed -n 's/^ExecStart=//p' /e2e/xenpci-sriov.service)
  # shellcheck disable=SC2086 # the unit's command line, split as systemd does for plain words
  run ${cmd/#\/usr\/bin\/xenpci/xenpci}
  [ "$RC" -eq 0 ] || fail "'$cmd' exited $RC: $(first_line "$OUT") $(first_line "$ERR")" || return
  [ "$(cat "$SYS/sriov_numvfs")" = 2 ] || fail "sriov_numvfs=$(cat "$SYS/sriov_numvfs") after restore (want 2)" || return
  local v; v=$(basename "$(readlink "$SYS/virtfn0")")
  [ "$(drv_of "$v")" = pciback ] || fail "$v (virtfn0) on $(drv_of "$v") after restore, not pciback" || return
  DETAIL="numvfs $before at boot (no udev) -> 2 by '$cmd'; $v on pciback"
}
check sriov-restore-by-unit c_restore

c_report() {
  run xenpci sriov "$PF" --json
  local st; st=$(printf '%s' "$OUT" | jq -r '.pfs[0] | "\(.numvfs) \(.persists) \(.vfs[0].state) \(.vfs[0].hidden_at_boot)"')
  [ "$st" = "2 true hidden true" ] || fail "xenpci sriov: '$st' (want 2 true hidden true)" || return
  DETAIL="numvfs persists vf0-state vf0-hidden_at_boot: $st"
}
check sriov-report-after-reboot c_report
