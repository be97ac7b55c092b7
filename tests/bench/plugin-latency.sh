#!/usr/bin/env bash
# Benchmark (not a test): latency of one XAPI plugin call, `list` on the bundled demo host,
# for xenpci-plugin (release build) against a minimal Python plugin with XenAPIPlugin-style
# dispatch doing the same work (tests/bench/python_plugin.py), measured in the same run with
# hyperfine, exactly as xapi runs a plugin: argv = [plugin, <methodCall>], env = PATH only
# (+ XENPCI_ROOT to point both at the demo host). Prints both means and the ratio.
# Target (issue 7): at least 20x faster.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }
cargo build -q --release --bin xenpci-plugin
ROOT=$PWD/demo/x9drw
# The call exactly as xapi renders it (xml-light, compact: no declaration, no blanks).
CALL='<methodCall><methodName>list</methodName><params><param><value>OpaqueRef:bench</value></param><param><value><struct/></value></param></params></methodCall>'
# Both must return the same devices before their speed means anything.
a=$(env -i PATH=/usr/bin:/bin XENPCI_ROOT="$ROOT" target/release/xenpci-plugin "$CALL" | python3 -c 'import sys,xmlrpc.client,json; r=xmlrpc.client.loads(sys.stdin.read())[0][0]; print(sorted(d["bdf"] for d in json.loads(r["Value"])))')
b=$(env -i PATH=/usr/bin:/bin XENPCI_ROOT="$ROOT" python3 tests/bench/python_plugin.py "$CALL" | python3 -c 'import sys,xmlrpc.client,json; r=xmlrpc.client.loads(sys.stdin.read())[0][0]; print(sorted(d["bdf"] for d in json.loads(r["Value"])))')
[ "$a" = "$b" ] || { echo "the two plugins disagree: $a vs $b" >&2; exit 1; }
OUT=$(mktemp)
export CALL ROOT
# -N: no shell in between (the call has no blanks, so hyperfine's word splitting keeps it whole).
# hyperfine itself runs with xapi's environment (PATH only, plus XENPCI_ROOT), which both plugins
# inherit, so no `env` process is timed with them.
env -i PATH=/usr/bin:/bin XENPCI_ROOT="$ROOT" HOME="${HOME:-/root}" \
  hyperfine -N --warmup 5 --runs "${RUNS:-100}" --export-json "$OUT" \
  -n xenpci-plugin "target/release/xenpci-plugin $CALL" \
  -n python-plugin "python3 tests/bench/python_plugin.py $CALL" >/dev/null
python3 - "$OUT" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
rust, py = r["xenpci-plugin"], r["python-plugin"]
print(f"xenpci-plugin list: mean {rust['mean']*1000:.2f} ms (sd {rust['stddev']*1000:.2f})")
print(f"python plugin list: mean {py['mean']*1000:.2f} ms (sd {py['stddev']*1000:.2f})")
print(f"ratio python/xenpci: {py['mean']/rust['mean']:.1f}x (target >= 20x)")
PY
rm -f "$OUT"
