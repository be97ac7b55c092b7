#!/bin/bash
# tests/xen-e2e/dom0-checks-stress.sh: the `stress` boot (XENPCI_E2E_BOOTS=stress): is dom0's
# userland reliable on this QEMU CPU model? Runs busybox 1200 times around three (failing, without
# shadow paging) local `xl migrate` attempts with a guest running, and fails on any crash. This is
# how `-cpu max` was found to corrupt dom0's memory (README "CPU model"):
#   XENPCI_E2E_BOOTS=stress XENPCI_E2E_CPU=max tests/xen-e2e/run.sh
# shellcheck source=checks-lib.sh
. /e2e/checks-lib.sh
echo 1 > /proc/sys/debug/exception-trace 2>/dev/null
dmesg -n 7 2>/dev/null
echo "E2E: cpu flags: $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2)"
sed 's/name = "domU"/name = "domS"/' /guest/domU.cfg > /tmp/domS.cfg
xl create /tmp/domS.cfg >/dev/null 2>&1
loop() { # loop N: busybox N times (sleep, and grep in a pipe); prints the failures
  local i bad=0
  for i in $(seq 1 "$1"); do
    sleep 0 || bad=$((bad + 1))
    echo hello | grep -q hello || bad=$((bad + 1))
  done
  echo "$bad"
}
c_stress() {
  local a b m
  a=$(loop 300)
  for m in 1 2 3; do xl migrate -s "" domS "xl migrate-receive" >/dev/null 2>&1; done
  b=$(loop 300)
  local traps; traps=$(dmesg | grep -c -E 'segfault at|general protection|traps:')
  DETAIL="busybox failures $a before / $b after the migrate attempts; kernel fault reports: $traps"
  [ "$a" = 0 ] && [ "$b" = 0 ] && [ "$traps" = 0 ]
}
check busybox-under-load c_stress
dmesg | grep -E 'segfault at|general protection|traps:' | head -n 5 | sed 's/^/E2E-INFO /'
