#!/usr/bin/env bash
# Benchmark (not a test): how long `xenpci xlcfg show` and the parser phases take on a large
# generated xl.cfg (issue 13: 50 MB must parse in under 1 s in release mode).
#   tests/bench/xlcfg-parse.sh            # 1 MB and 50 MB, both shapes
#   SIZES="800000" tests/bench/xlcfg-parse.sh
# Shapes: "mixed" repeats a VM config with comments, lists, quoted strings and `+=` chains
# (one string key, one list key, one new key per block); "plain" is one new key per line.
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZES=${SIZES:-"1000000 50000000"}
cargo build --release -q --bin xenpci --example xlcfg_parse_time
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for size in $SIZES; do
  for shape in mixed plain; do
    f=$TMP/$shape-$size.cfg
    python3 - "$size" "$shape" > "$f" <<'PY'
import sys
size, shape = int(sys.argv[1]), sys.argv[2]
out, n, i = [], 0, 0
while n < size:
    if shape == "mixed":
        b = (f"# vm {i}\nname = \"vm-{i}\"\nmemory = 1024\nvif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0' ]\n"
             f"disk = [ '/dev/vg/vm{i},raw,xvda,rw' ]\npci = [ '0000:01:00.0,permissive=1', \"02:00.0\" ]\n"
             f"extra += \"console=hvc0 \"\npci += [ '03:00.0' ]\nk{i} += {i}\n")
    else:
        b = f"key{i} = \"value {i}\"\n"
    out.append(b); n += len(b); i += 1
sys.stdout.write("".join(out))
PY
    echo "== $shape, $(stat -c %s "$f") bytes"
    /usr/bin/time -f "xenpci xlcfg show: %e s wall, %U s user, %S s sys, %M KB max RSS" \
      target/release/xenpci xlcfg show "$f" > /dev/null || true
    target/release/examples/xlcfg_parse_time "$f"
  done
done
