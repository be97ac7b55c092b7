#!/usr/bin/env bash
# Benchmark (not a test): `xenpci list --json` against
# `lspci -A linux-sysfs -O sysfs.path=ROOT/sys/bus/pci -nn -k -vmm` on the same generated host
# root of N PCI functions (default 1000), measured in the same hyperfine run. Prints the ratio
# xenpci/lspci of the mean times; the target is <= 0.5.
#   tests/bench/list-vs-lspci.sh            # N=1000, 30 runs each
#   N=300 RUNS=50 tests/bench/list-vs-lspci.sh
# Needs hyperfine, lspci (pciutils) and python3.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-1000}
RUNS=${RUNS:-30}
cargo build --release -q --bin xenpci --bin xenpci-fixture
BIN=$PWD/target/release/xenpci
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
"$(dirname "$BIN")/xenpci-fixture" write "big-$N" "$TMP/root" >/dev/null
echo "host root: $N functions ($(ls "$TMP/root/sys/bus/pci/devices" | wc -l) in sys/bus/pci/devices)"
# Both read the same tree; check once that both see every function.
"$BIN" --root "$TMP/root" list --json | python3 -c 'import json,sys; print("xenpci lists", len(json.load(sys.stdin)))'
lspci -A linux-sysfs -O "sysfs.path=$TMP/root/sys/bus/pci" -nn -k -vmm 2>/dev/null | grep -c '^Slot:' | sed 's/^/lspci lists /'
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$TMP/h.json" \
  -n "xenpci list --json" "$BIN --root $TMP/root list --json" \
  -n "lspci -nn -k -vmm" "lspci -A linux-sysfs -O sysfs.path=$TMP/root/sys/bus/pci -nn -k -vmm"
python3 - "$TMP/h.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
x, l = r["xenpci list --json"], r["lspci -nn -k -vmm"]
ratio = x["mean"] / l["mean"]
median = x["median"] / l["median"]
cpu = (x["user"] + x["system"]) / (l["user"] + l["system"])
print(f"xenpci {x['mean']*1000:.2f} ms (median {x['median']*1000:.2f}), "
      f"lspci {l['mean']*1000:.2f} ms (median {l['median']*1000:.2f})")
print(f"ratio xenpci/lspci: mean {ratio:.2f}, median {median:.2f}, user+system CPU {cpu:.2f} "
      f"(target <= 0.5 on the mean: {'met' if ratio <= 0.5 else 'NOT met'})")
PY
