#!/bin/bash
# tests/xenstored/start.sh: run Debian's oxenstored (Xen 4.17) as a plain process, without a
# hypervisor, for the XenStore tests (tests/xenstore_real.rs) and for manual experiments.
#
# What it does (details in docs/reference/FINDINGS.md §A):
#   * builds the two LD_PRELOAD shims next to it (rlimit_shim.c: clamp oxenstored's RLIMIT_NOFILE
#     request to the hard limit; xenctrl_stub.c: dummy xenctrl/evtchn handles) into a work dir;
#   * starts `oxenstored --no-fork --no-domain-init` in a private mount namespace with tmpfs on
#     /var/run/xenstored and /var/log/xen (its socket path is compiled in), so several daemons can
#     run at once and nothing touches the host's /var/run/xenstored;
#   * prints `XENSTORED_PATH=/proc/<pid>/root/run/xenstored/socket` (what xenstore-utils and
#     xenstore-rs read) and `OXENSTORED_PID=<pid>` on stdout;
#   * then stays in the foreground until its stdin reaches end-of-file or a line is read, or
#     XENSTORED_TIMEOUT seconds pass, and stops the daemon.
#
# Lifetime: the caller holds the write end of our stdin. When the caller exits, however it dies,
# the pipe closes, `read` returns and we stop the daemon. If this script itself is killed, the
# parent-death signal (setpriv --pdeathsig) kills `unshare`, whose --kill-child kills oxenstored.
#
# Knobs: OXENSTORED (default /usr/lib/xen-4.17/bin/oxenstored), XENSTORED_WORK (work dir, default
# a fresh mktemp dir, removed at exit unless XENSTORED_KEEP=1), XENSTORED_TIMEOUT (default 900 s),
# CC (default cc).
# Manual use:  bash tests/xenstored/start.sh   (copy the XENSTORED_PATH line; Enter stops it)
# Exit status: 0 after a clean stop; 3 when a prerequisite is missing; 4 when the daemon did not
# come up (its output is printed on stderr).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OXS=${OXENSTORED:-/usr/lib/xen-4.17/bin/oxenstored}
TIMEOUT=${XENSTORED_TIMEOUT:-900}
CC=${CC:-cc}

die() { echo "xenstored/start.sh: error: $1" >&2; exit "${2:-3}"; }
[ -x "$OXS" ] || die "$OXS not found or not executable (Debian package xen-utils-4.17 provides it; set OXENSTORED=path otherwise)"
for t in "$CC" unshare setpriv; do
  command -v "$t" >/dev/null || die "'$t' not found on PATH (needed to build the shims / isolate the daemon)"
done

WORK=${XENSTORED_WORK:-$(mktemp -d -p "${TMPDIR:-/tmp}")}   # mktemp's default name template
mkdir -p "$WORK"
for s in rlimit_shim xenctrl_stub; do
  if [ ! -f "$WORK/$s.so" ] || [ "$HERE/$s.c" -nt "$WORK/$s.so" ]; then
    "$CC" -shared -fPIC -O2 -o "$WORK/$s.so.tmp" "$HERE/$s.c" -ldl || die "building $s.so from $HERE/$s.c failed"
    mv "$WORK/$s.so.tmp" "$WORK/$s.so"
  fi
done
printf 'pid-file = %s\npersistent = false\n' "$WORK/oxenstored.pid" > "$WORK/oxenstored.conf"

UPID="" XPID=""
cleanup() {
  trap - EXIT
  if [ -n "$XPID" ]; then kill "$XPID" 2>/dev/null || true; fi
  if [ -n "$UPID" ]; then
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$UPID" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$UPID" 2>/dev/null || true   # unshare --fork ignores SIGTERM; --kill-child takes the daemon
    wait "$UPID" 2>/dev/null || true
  fi
  if [ -z "${XENSTORED_KEEP:-}" ] && [ -z "${XENSTORED_WORK:-}" ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP

# The daemon's stdin is /dev/null: only this script holds the caller's pipe.
setpriv --pdeathsig KILL \
  unshare -m --propagation private --fork --kill-child sh -c '
    mkdir -p /var/run/xenstored /var/log/xen
    mount -t tmpfs -o mode=0755 xs /var/run/xenstored
    mount -t tmpfs xslog /var/log/xen
    exec env LD_PRELOAD="$0/rlimit_shim.so $0/xenctrl_stub.so" \
      "$1" --no-fork --no-domain-init --config-file "$0/oxenstored.conf"
  ' "$WORK" "$OXS" > "$WORK/oxenstored.out" 2>&1 < /dev/null &
UPID=$!

for _ in $(seq 100); do
  XPID=$(pgrep -P "$UPID" || true)
  if [ -n "$XPID" ] && [ -S "/proc/$XPID/root/run/xenstored/socket" ]; then break; fi
  kill -0 "$UPID" 2>/dev/null || break
  sleep 0.05
done
if [ -z "$XPID" ] || [ ! -S "/proc/$XPID/root/run/xenstored/socket" ]; then
  echo "xenstored/start.sh: error: oxenstored did not create its socket within 5 s; its output:" >&2
  cat "$WORK/oxenstored.out" >&2 || true
  exit 4
fi
echo "XENSTORED_PATH=/proc/$XPID/root/run/xenstored/socket"
echo "OXENSTORED_PID=$XPID"
# Wait for the caller: EOF or a line on stdin, or the timeout.
read -r -t "$TIMEOUT" _ || true
exit 0
