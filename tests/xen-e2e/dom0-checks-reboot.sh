#!/bin/bash
# tests/xen-e2e/dom0-checks-reboot.sh: the second boot's checks, run inside dom0. run.sh boots Xen
# with `iommu=0` and dom0 with modprobe-loaded modules and the /etc/modprobe.d saved by the main
# boot (e2epersist=1): the "reboot of the test host".
# shellcheck source=checks-lib.sh
. /e2e/checks-lib.sh
SAS=$(bdf_of 1000:0054)
echo "E2E: SAS=$SAS ($(drv_of "$SAS")); /etc/modprobe.d: $(ls -A /etc/modprobe.d | tr '\n' ' ')"

# The harness itself: /etc/modprobe.d came back from the main boot (so hide-survives-reboot means
# something). Skipped when the main boot did not run first.
c_env_persist() {
  [ -f /etc/modprobe.d/.e2e-marker ] || { DETAIL="skip: no marker: the main boot did not run before this one"; return 2; }
  DETAIL="restored /etc/modprobe.d: $(cat /etc/modprobe.d/.e2e-marker)"
  return 0
}
check env-persisted-modprobe-d c_env_persist

c_env_no_iommu() {
  local caps; caps=$(virt_caps)
  DETAIL="xl info virt_caps: $caps"
  case " $caps " in *" hvm_directio "*) return 1 ;; *) return 0 ;; esac
}
check env-iommu-off c_env_no_iommu

# xenpci check reports the IOMMU missing, with the reason and the fix, and exits non-zero.
c_check_iommu_missing() {
  need check || return
  run xenpci check "$SAS"
  [ "$RC" -ne 0 ] || fail "xenpci check $SAS exited 0 although Xen has no IOMMU" || return
  local all lines; all=$(printf '%s\n%s\n' "$OUT" "$ERR"); lines=$(printf '%s' "$all" | grep -i 'iommu')
  printf '%s' "$lines" | grep -qiE 'missing|disabled|not (enabled|present|available)|no iommu' ||
    fail "no 'IOMMU missing' finding: $(first_line "$lines")" || return
  printf '%s' "$all" | grep -qiE 'fix|iommu=|vt-d|amd-vi|bios|firmware' || fail "no fix given" || return
  DETAIL="rc $RC: $(first_line "$lines")"
  return 0
}
check check-iommu-missing c_check_iommu_missing

# The persistent hide made by the main boot (modprobe.d method) survived the reboot.
c_hide_survived() {
  [ -f /etc/modprobe.d/.e2e-persistent-hide ] ||
    { DETAIL="skip: the main boot made no persistent hide (hide-persistent-modprobe did not pass)"; return 2; }
  local want; want=$(cat /etc/modprobe.d/.e2e-persistent-hide)
  [ "$(drv_of "$want")" = pciback ] || fail "$want is on $(drv_of "$want") after the reboot, not pciback" || return
  DETAIL="$want on pciback from boot ($(grep -hs '^options xen-pciback' /etc/modprobe.d/*.conf | head -n1))"
  need hidden || return
  run xenpci hidden --method modprobe --json
  [ "$RC" -eq 0 ] || fail "xenpci hidden --method modprobe --json exited $RC: $(first_line "$ERR")" || return
  local st; st=$(printf '%s' "$OUT" | jq -r --arg b "$want" '.devices[] | select(.bdf == $b) | "\(.hidden_now) \(.hidden_next_boot) \(.status)"')
  case "$st" in "true true "*) ;; *) fail "xenpci hidden --json for $want: hidden_now/hidden_next_boot/status = '$st' (want true true)"; return ;; esac
  DETAIL="$DETAIL; xenpci hidden: ${st#true true }"
}
check hide-survives-reboot c_hide_survived
