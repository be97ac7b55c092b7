#!/usr/bin/env python3
"""Drive a XAPI host plugin the way xapi does, with Python's own XML-RPC library.

Usage: xmlrpc_call.py PLUGIN FN [KEY=VALUE ...]      build the call with xmlrpc.client.dumps
       xmlrpc_call.py PLUGIN --raw TEXT              pass TEXT as the one argv unchanged
       xmlrpc_call.py PLUGIN --typed FN KEY=INT      a non-string argument (xapi never sends one)

Runs PLUGIN with argv [PLUGIN, <methodCall>] and only PATH in the environment (as xapi's
forkexecd does), parses stdout with xmlrpc.client.loads and prints one JSON line:
{"exit": int, "status": "Success"|"Failure"|null, "value": str|null, "error": [str]|null,
 "parse_error": str|null}.
"""
import json
import os
import subprocess
import sys
import xmlrpc.client


def main():
    plugin = sys.argv[1]
    if sys.argv[2] == "--raw":
        call = sys.argv[3]
    else:
        typed = sys.argv[2] == "--typed"
        rest = sys.argv[3:] if typed else sys.argv[2:]
        fn, pairs = rest[0], rest[1:]
        args = {}
        for p in pairs:
            k, _, v = p.partition("=")
            args[k] = int(v) if typed else v
        call = xmlrpc.client.dumps(("OpaqueRef:test-session", args), fn)
    env = {"PATH": "/sbin:/usr/sbin:/bin:/usr/bin"}
    for k in ("XENPCI_ROOT", "XENPCI_XE", "XENPCI_XL", "XENPCI_XEN_CMDLINE", "XE_MOCK_STATE",
              "XL_MOCK_STATE", "XENPCI_NO_XENSTORE", "XL_MOCK_LOG", "XE_MOCK_LOG",
              "XENPCI_DOUBLE_LOG", "PATH"):
        # xapi passes only PATH; tests may set the host root explicitly through this wrapper.
        if os.environ.get("PLUGIN_PASS_" + k):
            env[k] = os.environ["PLUGIN_PASS_" + k]
    p = subprocess.run([plugin, call], capture_output=True, env=env)
    out = {"exit": p.returncode, "status": None, "value": None, "error": None, "parse_error": None}
    try:
        (resp,), _ = xmlrpc.client.loads(p.stdout.decode())
        out["status"] = resp.get("Status")
        out["value"] = resp.get("Value")
        out["error"] = resp.get("ErrorDescription")
    except Exception as e:  # the test asserts on this: a plugin must never produce it
        out["parse_error"] = "%s: %s | stdout=%r stderr=%r" % (type(e).__name__, e, p.stdout[:500], p.stderr[:500])
    print(json.dumps(out))


main()
