#!/bin/bash
# tests/xen-e2e/dom0-checks-renumber.sh: the third boot (issue 14, FINDINGS §G). run.sh swaps the
# slots of the SAS HBA and the e1000 (SAS_ADDR=0x3 NIC_ADDR=0x2) and restores /etc/modprobe.d and
# /var/lib/xenpci from the earlier boots, whose persistent hide names the HBA's old BDF. pciback
# takes the e1000 at boot; `xenpci verify` must give it back to dom0 and say where the HBA went,
# a guest config naming the old BDF must not get the NIC, and `verify --repair` must move the hide.
# shellcheck source=checks-lib.sh
. /e2e/checks-lib.sh
SAS=$(bdf_of 1000:0054); NIC=$(bdf_of 8086:100e)
OLD=$(cat /etc/modprobe.d/.e2e-persistent-hide 2>/dev/null)
echo "E2E: SAS=$SAS ($(drv_of "$SAS")) NIC=$NIC ($(drv_of "$NIC")) hide list names: ${OLD:-nothing}"
echo "E2E: $(grep -hs '^options xen-pciback' /etc/modprobe.d/*.conf | head -n1)"
ls /var/lib/xenpci >/dev/null 2>&1 && echo "E2E: /var/lib/xenpci: $(ls -A /var/lib/xenpci | tr '\n' ' ')"

# The premise, as FINDINGS §G recorded it: the slots moved, and pciback took the NIC.
c_premise() {
  [ -n "$OLD" ] || { DETAIL="skip: the main boot made no persistent hide"; return 2; }
  [ -f /var/lib/xenpci/devices.json ] || { DETAIL="skip: no /var/lib/xenpci/devices.json from the main boot"; return 2; }
  [ "$NIC" = "$OLD" ] || fail "the e1000 is at $NIC, not at the hidden $OLD: the slots did not swap" || return
  [ "$(drv_of "$NIC")" = pciback ] || fail "the e1000 at $NIC is on $(drv_of "$NIC"), not pciback" || return
  [ "$SAS" != "$OLD" ] || fail "the HBA is still at $OLD" || return
  DETAIL="hide list names $OLD: now the e1000 (on pciback); the HBA is at $SAS on $(drv_of "$SAS")"
}
check renumber-premise-pciback-took-the-nic c_premise

# Before verify has run, xenpci's own commands refuse the old BDF: it is not the recorded HBA.
c_old_bdf_refused() {
  need verify || return
  [ "$NIC" = "$OLD" ] || { DETAIL="skip: the premise does not hold"; return 2; }
  run xenpci hide --persistent --method modprobe --dry-run "$OLD"
  [ "$RC" -eq 1 ] || fail "xenpci hide $OLD exited $RC, not refused" || return
  case "$ERR" in *renumbered*"not the recorded"*) ;; *) fail "refused for another reason: $(first_line "$ERR")"; return ;; esac
  DETAIL="$(printf '%s' "$ERR" | grep -o 'renumbered: [^;]*' | head -n1)"
}
check renumber-old-bdf-refused-before-verify c_old_bdf_refused

# verify (no --repair): the e1000 goes back to dom0 at once, the HBA is found at its new BDF.
c_verify_gives_back() {
  need verify || return
  [ "$NIC" = "$OLD" ] || { DETAIL="skip: the premise does not hold"; return 2; }
  run xenpci verify --json
  [ "$RC" -eq 1 ] || fail "xenpci verify exited $RC (want 1: the HBA moved): $(first_line "$ERR")" || return
  local loc; loc=$(printf '%s' "$OUT" | jq -r --arg b "$OLD" '.devices[] | select(.bdf == $b) | "\(.location.state) \(.location.to)"')
  [ "$loc" = "moved $SAS" ] || fail "verify says '$loc' for $OLD (want 'moved $SAS')" || return
  wait_for 10 sh -c "[ \"\$(readlink /sys/bus/pci/devices/$NIC/driver)\" != '' ] && ! readlink /sys/bus/pci/devices/$NIC/driver | grep -q pciback" ||
    fail "the e1000 at $NIC is on $(drv_of "$NIC") after verify, not back on its own driver" || return
  DETAIL="moved to $SAS; the e1000 at $NIC is back on $(drv_of "$NIC")"
}
check renumber-verify-gives-the-nic-back c_verify_gives_back

# A guest config naming the old BDF cannot get the NIC: it is not assignable any more.
c_old_bdf_not_assignable() {
  [ "$NIC" = "$OLD" ] || { DETAIL="skip: the premise does not hold"; return 2; }
  run xl pci-assignable-list
  if printf '%s' "$OUT" | grep -q "${OLD#0000:}"; then fail "xl pci-assignable-list still offers $OLD: $OUT"; return; fi
  DETAIL="xl pci-assignable-list: $(printf '%s' "$OUT" | tr '\n' ' ')"
}
check renumber-old-bdf-not-assignable c_old_bdf_not_assignable

# --repair: the hide moves to the HBA's new BDF (modprobe.d, the method the hide used, and now).
c_repair() {
  need verify || return
  [ "$NIC" = "$OLD" ] || { DETAIL="skip: the premise does not hold"; return 2; }
  run xenpci verify --repair
  [ "$RC" -eq 0 ] || fail "xenpci verify --repair exited $RC: $(first_line "$ERR")" || return
  grep -qs "hide=.*($SAS)" /etc/modprobe.d/*.conf || fail "modprobe.d does not name $SAS: $(grep -hs xen-pciback /etc/modprobe.d/*.conf)" || return
  if grep -qs "($OLD)" /etc/modprobe.d/*.conf; then fail "modprobe.d still names $OLD"; return; fi
  [ "$(drv_of "$SAS")" = pciback ] || fail "the HBA at $SAS is on $(drv_of "$SAS"), not pciback" || return
  run xenpci verify
  [ "$RC" -eq 0 ] || fail "a second verify exited $RC: $(first_line "$OUT")" || return
  DETAIL="$(grep -hs '^options xen-pciback' /etc/modprobe.d/*.conf | head -n1); $SAS on pciback; verify clean"
}
check renumber-repair-moves-the-hide c_repair
