#!/usr/bin/env bash
# Bench of `xenpci evacuate` against the mock xl (issue 6):
#  1. xenpci's own overhead per VM with zero-latency mocks: wall time per VM minus the time the
#     mock xl calls themselves take (calls per VM x mean cost of one mock call);
#  2. evacuate wall time for 1, 8, 32 HVM guests (one mapped device each: hot path, 5 xl
#     mutating calls + queries) with -j 1 vs -j 8 under injected latency (XL_MOCK_LATENCY_MS).
# Usage: tests/bench/evacuate.sh [LATENCY_MS=50]. Builds the debug binaries first. Prints tables.
set -euo pipefail
cd "$(dirname "$0")/../.."
LAT=${1:-50}
cargo build -q --bin xenpci --bin xl
BIN=$PWD/target/debug
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# setup N: state with N HVM guests on h1, each holding one device; mapping + sysfs for both hosts
setup() {
  local n=$1 d=$WORK/n$1
  rm -rf "$d"; mkdir -p "$d"
  python3 - "$n" "$d" <<'PY'
import json, os, sys
n, d = int(sys.argv[1]), sys.argv[2]
def bdf(bus): return "0000:%02x:00.0" % bus
h1 = {"devices": [], "domains": [], "next-domid": n + 1}
h2 = {"devices": [], "next-domid": 100}
devmap = {}
for i in range(n):
    a, b = bdf(0x10 + i), bdf(0x80 + i)
    h1["devices"].append({"bdf": a, "driver": "pciback"})
    h2["devices"].append({"bdf": b, "driver": "pciback"})
    h1["domains"].append({"domid": i + 1, "name": "vm%02d" % i, "type": "hvm", "passthrough": "share_pt",
                          "pci": [{"bdf": a, "vslot": 5}]})
    devmap["dev%02d" % i] = {"vendor": "8086", "device": "1533", "hosts": {"h1": a, "h2": b}}
    for host, x in (("h1", a), ("h2", b)):
        p = os.path.join(d, "roots", host, "sys/bus/pci/devices", x)
        os.makedirs(p)
        open(os.path.join(p, "vendor"), "w").write("0x8086\n")
        open(os.path.join(p, "device"), "w").write("0x1533\n")
json.dump({"hosts": {"h1": h1, "h2": h2}}, open(os.path.join(d, "xl.json"), "w"))
json.dump({"devices": devmap}, open(os.path.join(d, "map.json"), "w"))
PY
}

run() { # n jobs latency -> seconds
  local n=$1 j=$2 lat=$3 d=$WORK/n$1
  setup "$n"
  local t0 t1
  t0=$(date +%s.%N)
  env XENPCI_XL="$BIN/xl" XL_MOCK_STATE="$d/xl.json" XL_MOCK_LOG="$d/xl.log" XL_MOCK_LATENCY_MS="$lat" \
      XENPCI_LOCAL_HOST=h1 XENPCI_TRANSPORT='env XL_MOCK_HOST={host} {cmd}' XENPCI_TOOLSTACK=xl \
      XENPCI_STATE_DIR="$d/state" XENPCI_ROOT="$d/roots/h1" XENPCI_REMOTE_ROOT="$d/roots/{host}" \
      XENPCI_MAP="$d/map.json" XENPCI_NO_XENSTORE=1 \
      "$BIN/xenpci" evacuate h1 --to h2 -j "$j" >"$d/out" 2>"$d/err" || { cat "$d/out" "$d/err" >&2; exit 1; }
  t1=$(date +%s.%N)
  grep -q "moved $n, rolled back 0, failed 0" "$d/out" || { echo "not all moved" >&2; cat "$d/out" >&2; exit 1; }
  echo "$t0 $t1 $(wc -l <"$d/xl.log")" | awk '{printf "%.3f %d\n", $2-$1, $3}'
}

# mean cost of one mock xl call (same state size as the 32-VM case)
setup 32
t0=$(date +%s.%N)
for _ in $(seq 50); do XL_MOCK_STATE=$WORK/n32/xl.json "$BIN/xl" list >/dev/null; done
t1=$(date +%s.%N)
CALL=$(echo "$t0 $t1" | awk '{printf "%.5f", ($2-$1)/50}')

echo "== xenpci overhead per VM (zero-latency mocks, -j 1) =="
printf '%-5s %-9s %-10s %-12s %-14s %-12s\n' VMs wall_s xl_calls calls/VM mock_call_ms overhead/VM_ms
for n in 1 8 32; do
  read -r w c < <(run "$n" 1 0)
  awk -v n="$n" -v w="$w" -v c="$c" -v k="$CALL" 'BEGIN{printf "%-5d %-9.3f %-10d %-12.1f %-14.2f %-12.2f\n", n, w, c, c/n, k*1000, (w - c*k)/n*1000}'
done

echo
echo "== evacuate wall time, XL_MOCK_LATENCY_MS=$LAT per xl call =="
printf '%-5s %-10s %-10s %-8s\n' VMs j1_s j8_s speedup
for n in 1 8 32; do
  read -r a _ < <(run "$n" 1 "$LAT")
  read -r b _ < <(run "$n" 8 "$LAT")
  awk -v n="$n" -v a="$a" -v b="$b" 'BEGIN{printf "%-5d %-10.2f %-10.2f %-8.2f\n", n, a, b, a/b}'
done
