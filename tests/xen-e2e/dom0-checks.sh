#!/bin/bash
# tests/xen-e2e/dom0-checks.sh: the main boot's checks, run inside dom0 (Xen 4.17 with the emulated
# IOMMU), all through xenpci. Devices (QEMU): LSI SAS1068 HBA [1000:0054] (mptsas), e1000
# [8086:100e], e1000e [8086:10d3] behind a PCIe root port. Verdicts: see checks-lib.sh.
# shellcheck source=checks-lib.sh
. /e2e/checks-lib.sh
SAS=$(bdf_of 1000:0054); NIC=$(bdf_of 8086:100e); NIC2=$(bdf_of 8086:10d3)
echo "E2E: SAS=$SAS ($(drv_of "$SAS")) NIC=$NIC ($(drv_of "$NIC")) NIC2=$NIC2 ($(drv_of "$NIC2"))"
echo "E2E: xenpci $(xenpci --version 2>&1)"

# --- environment: Xen really has the IOMMU (else every later verdict means nothing) ---
c_env_iommu() {
  local caps; caps=$(virt_caps)
  DETAIL="xl info virt_caps: $caps"
  case " $caps " in *" hvm_directio "*) return 0 ;; *) return 1 ;; esac
}
check env-iommu-enabled c_env_iommu
# the harness's "disk" that carries /etc/modprobe.d to the reboot boot (checked there)
echo "main boot at $(date)" > /etc/modprobe.d/.e2e-marker

# --- inventory: xenpci list --json (issue 3 field names) ---
# list_has BDF VENDOR DEVICE DRIVER: the JSON array in $OUT has that device with that driver.
list_has() {
  printf '%s' "$OUT" | jq -e --arg b "$1" --arg v "$2" --arg d "$3" --arg k "$4" \
    '[.[] | select(.bdf == $b and .vendor_id == $v and .device_id == $d and .driver == $k)] | length == 1' >/dev/null
}
c_list_hba() {
  need list || return
  run xenpci list --json
  [ "$RC" -eq 0 ] || fail "xenpci list --json exited $RC: $(first_line "$ERR")" || return
  printf '%s' "$OUT" | jq -e 'type == "array"' >/dev/null || fail "output is not a JSON array" || return
  list_has "$SAS" 1000 0054 mptsas || fail "no {bdf: $SAS, vendor_id: 1000, device_id: 0054, driver: mptsas} in the list" || return
  DETAIL="$SAS 1000:0054 driver mptsas ($(printf '%s' "$OUT" | jq length) functions listed)"
  return 0
}
check list-json-hba c_list_hba
c_list_nics() {
  need list || return
  run xenpci list --json
  [ "$RC" -eq 0 ] || fail "xenpci list --json exited $RC" || return
  list_has "$NIC" 8086 100e e1000 || fail "no {bdf: $NIC, 8086:100e, driver: e1000}" || return
  list_has "$NIC2" 8086 10d3 e1000e || fail "no {bdf: $NIC2, 8086:10d3, driver: e1000e}" || return
  DETAIL="$NIC 8086:100e e1000, $NIC2 8086:10d3 e1000e"
  return 0
}
check list-json-nics c_list_nics

# --- preflight: xenpci check reports the IOMMU enabled (from xl info virt_caps) ---
c_check_iommu() {
  need check || return
  run xenpci check "$SAS"
  local lines; lines=$(printf '%s\n%s\n' "$OUT" "$ERR" | grep -i 'iommu')
  [ -n "$lines" ] || fail "xenpci check $SAS (rc $RC) says nothing about the IOMMU" || return
  printf '%s' "$lines" | grep -qiE 'missing|disabled|not (enabled|present|available)|no iommu' &&
    { fail "reports the IOMMU missing: $(first_line "$lines")"; return; }
  printf '%s' "$lines" | grep -qiE 'enabled|present|available' || fail "no 'enabled' IOMMU finding: $(first_line "$lines")" || return
  run xenpci check --json "$SAS"
  printf '%s' "$OUT" | jq -e . >/dev/null || fail "xenpci check --json $SAS is not JSON" || return
  DETAIL="rc $RC: $(first_line "$lines")"
  return 0
}
check check-iommu-enabled c_check_iommu

# --- live hide / unhide ---
c_hide_now() {
  need hide || return
  [ "$(drv_of "$SAS")" = mptsas ] || fail "precondition: $SAS is on $(drv_of "$SAS"), not mptsas" || return
  run xenpci hide --now "$SAS"
  [ "$RC" -eq 0 ] || fail "xenpci hide --now $SAS exited $RC: $(first_line "$ERR")" || return
  [ "$(drv_of "$SAS")" = pciback ] || fail "after hide --now, $SAS is on $(drv_of "$SAS"), not pciback" || return
  xl pci-assignable-list | grep -q "^$SAS" || fail "xl pci-assignable-list does not list $SAS" || return
  DETAIL="$SAS mptsas -> pciback, listed by xl pci-assignable-list"
  return 0
}
check hide-now c_hide_now
c_unhide_now() {
  need unhide || return
  [ "$(drv_of "$SAS")" = pciback ] || fail "precondition: $SAS is on $(drv_of "$SAS"), not pciback (hide-now failed?)" || return
  run xenpci unhide --now "$SAS"
  [ "$RC" -eq 0 ] || fail "xenpci unhide --now $SAS exited $RC: $(first_line "$ERR")" || return
  [ "$(drv_of "$SAS")" = mptsas ] || fail "after unhide --now, $SAS is on $(drv_of "$SAS"), not mptsas" || return
  DETAIL="$SAS pciback -> mptsas (original driver rebound)"
  return 0
}
check unhide-now c_unhide_now

# --- hotplug into a running PV guest ---
GUEST_UP=""
start_guest() { # start_guest NAME: xl create a copy of /guest/domU.cfg named NAME, wait for its init
  [ -n "$(xl domid "$1" 2>/dev/null)" ] && return 0
  sed "s/name = \"domU\"/name = \"$1\"/" /guest/domU.cfg > "/tmp/$1.cfg"
  rm -f "/var/log/xen/guest-$1.log"
  xl create "/tmp/$1.cfg" >/dev/null 2>&1 || return 1
  wait_for 90 guest_log_has "$1" "DOMU: up"
}
assignable() { # make $1 assignable with xl (setup only; hide --now is checked above)
  [ "$(drv_of "$1")" = pciback ] || xl pci-assignable-add "$1" >/dev/null 2>&1
}
be_read() { xenstore-read "/local/domain/0/backend/pci/$DOMID/0/$1" 2>/dev/null; }
be_state_is() { [ "$(be_read state)" = "$1" ]; }
dev0_gone() { [ "$(be_read dev-0)" != "$SAS" ]; }
hba_gone_from_guest() { ! guest_lspci_last domU | grep -q 1000:0054; }

c_attach() {
  need attach || return
  start_guest domU || fail "setup: xl create of the PV guest failed" || return
  DOMID=$(xl domid domU)
  assignable "$SAS"
  run xenpci attach domU "$SAS@3,permissive=1"
  [ "$RC" -eq 0 ] || fail "xenpci attach domU $SAS@3,permissive=1 exited $RC: $(first_line "$ERR")" || return
  wait_for 60 guest_log_has domU 1000:0054 || fail "the guest's lspci never showed [1000:0054]" || return
  [ "$(be_read dev-0)" = "$SAS" ] || fail "backend dev-0 = '$(be_read dev-0)', not $SAS" || return
  case $(be_read opts-0) in *permissive=1*) ;; *) fail "backend opts-0 = '$(be_read opts-0)' lacks permissive=1"; return ;; esac
  [ "$(be_read vdevfn-0)" = 18 ] || fail "backend vdevfn-0 = '$(be_read vdevfn-0)', expected 18 (slot 3)" || return
  wait_for 30 be_state_is 4 || fail "backend state = '$(be_read state)', expected 4" || return
  xl pci-list domU | grep -q "^03.0 $SAS" || fail "xl pci-list domU does not show '03.0 $SAS'" || return
  DETAIL="guest lspci sees 1000:0054; backend dev-0=$SAS opts-0=$(be_read opts-0) vdevfn-0=18 state-0=$(be_read state-0) state=4"
  return 0
}
check attach-options-vslot c_attach
c_detach() {
  need detach || return
  [ -n "$(xl pci-list domU 2>/dev/null)" ] || fail "precondition: nothing attached to domU (attach failed?)" || return
  run xenpci detach domU "$SAS"
  [ "$RC" -eq 0 ] || fail "xenpci detach domU $SAS exited $RC: $(first_line "$ERR")" || return
  [ -z "$(xl pci-list domU)" ] || fail "xl pci-list domU still shows: $(xl pci-list domU | tail -n1)" || return
  wait_for 30 dev0_gone || fail "backend dev-0 still $(be_read dev-0) 30 s after the detach" || return
  local guest="gone from the guest's lspci"
  wait_for 30 hba_gone_from_guest || guest="the guest's last lspci report still lists it"
  DETAIL="xl pci-list domU empty, backend entry gone; $guest"
  return 0
}
check detach c_detach
c_attach_refused() {
  need attach || return
  start_guest domU || fail "setup: xl create of the PV guest failed" || return
  printf '#!/bin/sh\necho "$*" >> /tmp/xl-spy.log\nexec /usr/sbin/xl "$@"\n' > /tmp/xl-spy; chmod +x /tmp/xl-spy
  : > /tmp/xl-spy.log
  local bad=0000:00:1f.3   # q35's SMBus controller: present, never bound to pciback
  # 1. The safety policy answers first: 00:1f.3 shares its isolation group with the ICH9's
  #    other functions (00:1f.2, the SATA controller), so it cannot be passed alone.
  XENPCI_XL=/tmp/xl-spy run xenpci attach domU "$bad"
  [ "$RC" -eq 1 ] || fail "xenpci attach domU $bad: rc $RC, expected 1 (refused)" || return
  grep -q 'pci-attach' /tmp/xl-spy.log && { fail "xl pci-attach was called: $(grep pci-attach /tmp/xl-spy.log)"; return; }
  # (shell pattern, not a pipe into busybox grep: that segfaulted once under host load)
  case "$OUT $ERR" in *"isolation group"*|*"dom0 needs it"*) ;; *) fail "no policy reason given: $(first_line "$ERR")"; return ;; esac
  local policy_reason; policy_reason=$(first_line "$ERR$OUT")
  # 2. Forced past the policy, xl's own condition remains: the device is not assignable.
  XENPCI_XL=/tmp/xl-spy run xenpci attach domU "$bad" --force
  [ "$RC" -ne 0 ] || fail "xenpci attach domU $bad --force succeeded" || return
  grep -q 'pci-attach' /tmp/xl-spy.log && { fail "xl pci-attach was called: $(grep pci-attach /tmp/xl-spy.log)"; return; }
  case "$OUT $ERR" in *assignable*|*pciback*|*hidden*) ;; *) fail "forced: no reason given: $(first_line "$ERR")"; return ;; esac
  DETAIL="rc 1, xl not called: $policy_reason; forced: rc $RC: $(first_line "$ERR$OUT")"
  return 0
}
check attach-not-assignable-refused c_attach_refused

# --- migration (local: xl migrate -s "" ... , FINDINGS.md §D) ---
# xl does not say which file a domain was created from; the cold path recreates the guest from
# it, so tell xenpci where start_guest keeps the configs.
export XENPCI_XL_CONFIG_DIRS=/tmp
export XENPCI_SHUTDOWN_SECS=20
# The lab guest (busybox init) does not answer PV shutdown requests ("guest didn't acknowledge
# control request: -9" on real Xen), so the cold path may stop it with xl destroy.
c_migrate_cold() {
  need migrate || return
  start_guest domU || fail "setup: guest" || return
  assignable "$SAS"
  [ -n "$(xl pci-list domU)" ] || xl pci-attach domU "$SAS" >/dev/null 2>&1
  run xenpci migrate domU --to localhost --force-stop
  [ "$RC" -eq 0 ] || fail "xenpci migrate domU --to localhost exited $RC: $(first_line "$ERR")" || return
  printf '%s %s' "$OUT" "$ERR" | grep -qi 'cold' || fail "did not say it takes the cold path" || return
  xl domid domU >/dev/null 2>&1 || fail "domU is not running after the migration" || return
  xl pci-list domU | grep -q "$SAS" || fail "domU lacks $SAS after the migration" || return
  DETAIL="cold path announced; domU running with $SAS"
  return 0
}
check migrate-pv-with-device-cold c_migrate_cold
c_resume_after_kill() {
  need migrate || return
  need resume || return
  need status || return
  start_guest domU || fail "setup: guest" || return
  xenpci migrate domU --to localhost --force-stop > /tmp/mig.log 2>&1 &
  local pid=$! n=0
  while [ $n -lt 200 ] && ! xenpci status 2>/dev/null | grep -qi 'domU'; do sleep 0.1; n=$((n + 1)); done
  kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  run xenpci resume
  [ "$RC" -eq 0 ] || fail "xenpci resume exited $RC: $(first_line "$ERR") / stdout: $(printf "%s" "$OUT" | tail -n 2 | tr "\n" " ")" || return
  xl domid domU >/dev/null 2>&1 || fail "domU is not running after resume" || return
  [ "$(xl pci-list domU | grep -c "$SAS")" = 1 ] || fail "domU does not hold $SAS exactly once after resume" || return
  DETAIL="killed after $((n / 10)) s, resume ended with domU running holding $SAS once"
  return 0
}
check migrate-killed-then-resume c_resume_after_kill
# A guest that never had a device. Whether it can move live depends on the hypervisor build: xl's
# live migration needs log-dirty mode, which Xen does for PV guests with shadow paging, and Debian
# 12's Xen 4.17 is built without it (`# CONFIG_SHADOW_PAGING is not set`, no `shadow` in virt_caps).
# There xenpci must refuse the live move up front, with the reason and the cold alternative, and
# plain xl must really fail (so the refusal is not a guess); with shadow paging it moves live.
has_shadow() { case " $(virt_caps) " in *" shadow "*) return 0 ;; *) return 1 ;; esac; }
xl_spy() { # a wrapper that logs every xl call to /tmp/xl-spy.log
  printf '#!/bin/sh\necho "$*" >> /tmp/xl-spy.log\nexec /usr/sbin/xl "$@"\n' > /tmp/xl-spy; chmod +x /tmp/xl-spy
  : > /tmp/xl-spy.log
}
c_migrate_live() {
  need migrate || return
  start_guest domV || fail "setup: xl create domV" || return
  local id; id=$(xl domid domV)
  if has_shadow; then
    run xenpci migrate domV --to localhost
    [ "$RC" -eq 0 ] || fail "xenpci migrate domV exited $RC: $(first_line "$ERR")" || return
    printf '%s %s' "$OUT" "$ERR" | grep -qi 'live' || fail "did not say it migrated live" || return
    xl domid domV >/dev/null 2>&1 || fail "domV is not running after the migration" || return
    DETAIL="Xen has shadow paging: domV (never had a device) moved live"
    return 0
  fi
  xl_spy
  XENPCI_XL=/tmp/xl-spy run xenpci migrate domV --to localhost
  [ "$RC" -ne 0 ] || fail "xenpci migrate domV succeeded although virt_caps has no shadow: $(virt_caps)" || return
  case "$ERR" in *"shadow paging"*"--cold"*) ;; *) fail "no reason/alternative given: $(first_line "$ERR")"; return ;; esac
  grep -q '^migrate' /tmp/xl-spy.log && { fail "xl migrate was run: $(grep '^migrate' /tmp/xl-spy.log)"; return; }
  [ "$(xl domid domV 2>/dev/null)" = "$id" ] || fail "domV (domid $id) is gone or changed" || return
  DETAIL="no shadow in virt_caps ($(virt_caps)): refused before xl migrate, domV untouched (domid $id): $(printf '%s' "$ERR" | grep -o 'cannot track[^:]*' | head -n1)"
  return 0
}
check migrate-pv-live-needs-shadow c_migrate_live
# the evidence behind that refusal: plain xl on this Xen
c_xl_live_fails() {
  has_shadow && { DETAIL="skip: this Xen has shadow paging"; return 2; }
  start_guest domV || fail "setup: xl create domV" || return
  local id; id=$(xl domid domV)
  run xl migrate -s "" domV "xl migrate-receive"
  [ "$RC" -ne 0 ] || fail "plain xl migrate of domV succeeded without shadow paging" || return
  case "$ERR" in *"Failed to enable logdirty"*) ;; *) fail "xl failed otherwise: $(printf '%s' "$ERR" | tail -n 1)"; return ;; esac
  [ "$(xl domid domV 2>/dev/null)" = "$id" ] || fail "domV (domid $id) did not survive the failed migrate" || return
  DETAIL="xl migrate rc $RC: $(printf '%s' "$ERR" | grep -m1 'logdirty'); domV still running (domid $id)"
  return 0
}
check xl-pv-live-migrate-fails-without-shadow c_xl_live_fails
c_migrate_nodev_cold() {
  need migrate || return
  start_guest domV || fail "setup: xl create domV" || return
  local id; id=$(xl domid domV)
  run xenpci migrate domV --to localhost --cold --force-stop
  [ "$RC" -eq 0 ] || fail "xenpci migrate domV --cold exited $RC: $(first_line "$ERR")" || return
  local nid; nid=$(xl domid domV 2>/dev/null) || fail "domV is not running after the cold move" || return
  [ "$nid" != "$id" ] || fail "domV kept domid $id: it was not restarted" || return
  DETAIL="domV shut down and started again (domid $id -> $nid)"
  return 0
}
check migrate-pv-without-device-cold c_migrate_nodev_cold

# --- evidence (XENPCI_E2E_PROBE=1 -> e2eprobe=1): what real Xen leaves in XenStore around a
# detach, the basis of xenpci::xenstore::pcifront_present and of the verifier's half-attached case ---
if grep -q 'e2eprobe=1' /proc/cmdline && start_guest domU && assignable "$SAS"; then
  DOMID=$(xl domid domU)
  xl pci-attach domU "$SAS" >/dev/null 2>&1; wait_for 60 guest_log_has domU 1000:0054
  t0=$EPOCHREALTIME; xl pci-detach domU "$SAS" >/dev/null 2>&1; rc=$?
  echo "E2E-INFO xl pci-detach rc=$rc t=$(elapsed "$t0"); right after it: $(xenstore-ls -f "/local/domain/0/backend/pci/$DOMID" 2>&1 | grep -E '/(state|num_devs|state-0|dev-0) ' | tr '\n' ';')"
  t0=$EPOCHREALTIME; wait_for 60 sh -c "! xenstore-read /local/domain/0/backend/pci/$DOMID/0/dev-0 >/dev/null 2>&1"
  echo "E2E-INFO $(elapsed "$t0") s later: $(xenstore-ls -f "/local/domain/0/backend/pci/$DOMID" 2>&1 | tr '\n' ';')"
  echo "E2E-INFO frontend: $(xenstore-ls -f "/local/domain/$DOMID/device/pci" 2>&1 | tr '\n' ';')"
  # a non-live save needs no log-dirty: does a guest whose pcifront connected suspend?
  xl save domU /tmp/domU.save > /tmp/save.log 2>&1; rc=$?
  echo "E2E-INFO xl save after the detach: rc=$rc $(tail -n 3 /tmp/save.log | tr '\n' '|')"
  if [ $rc = 0 ]; then xl restore /tmp/domU.save > /tmp/restore.log 2>&1; echo "E2E-INFO xl restore rc=$? $(tail -n 2 /tmp/restore.log | tr '\n' '|')"; rm -f /tmp/domU.save; fi
  # with the device attached
  xl pci-attach domU "$SAS" >/dev/null 2>&1; wait_for 60 guest_log_has domU 1000:0054
  xl save domU /tmp/domU.save > /tmp/save.log 2>&1; rc=$?
  echo "E2E-INFO xl save with the device attached: rc=$rc $(tail -n 3 /tmp/save.log | tr '\n' '|')"
  xl migrate -s "" domU "xl migrate-receive" > /tmp/mig.log 2>&1; rc=$?
  echo "E2E-INFO xl migrate with the device attached: rc=$rc $(grep -E 'error|failed|Failed' /tmp/mig.log | head -n 4 | tr '\n' '|')"
  xl destroy domU >/dev/null 2>&1; rm -f /tmp/domU.save
fi

# --- persistent hide through modprobe.d; boot 2 (dom0-checks-reboot.sh) checks it survived ---
c_hide_persistent() {
  need hide || return
  xl destroy domU >/dev/null 2>&1; xl destroy domV >/dev/null 2>&1
  run xenpci hide --persistent --method modprobe "$SAS"
  [ "$RC" -eq 0 ] || fail "xenpci hide --persistent --method modprobe $SAS exited $RC: $(first_line "$ERR")" || return
  grep -qs "hide=.*($SAS)" /etc/modprobe.d/*.conf || fail "no 'hide=...($SAS)' in /etc/modprobe.d/*.conf" || return
  echo "$SAS" > /etc/modprobe.d/.e2e-persistent-hide
  DETAIL="$(grep -hs '^options xen-pciback' /etc/modprobe.d/*.conf | head -n1)"
  return 0
}
check hide-persistent-modprobe c_hide_persistent
