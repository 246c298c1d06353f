#!/usr/bin/env bash
# 10 000 idle connections (issue #7): starts `sluse demo` with enough file descriptors, opens N TCP
# connections that never send a byte, measures ordinary requests from other clients (GET /healthz,
# /readyz and an authenticated /v1/me, each on a new connection) before and while they are held, and
# how long the gateway takes to close the idle ones. Exit 0 when every idle connection was opened
# and closed by the server.
#
#   tools/idle-connections.sh                       # 10 000 connections, 10 s header read timeout
#   N=2000 TIMEOUT_MS=2000 tools/idle-connections.sh
#
# Environment: N (10000), TIMEOUT_MS (server.header_read_timeout_ms, 10000 as in production),
# PORT (18090), SLUSE (the binary; default $CARGO_TARGET_DIR/release/sluse, built when missing),
# KEEP=1 (keep the temporary directory with the gateway's log).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
N="${N:-10000}"
TIMEOUT_MS="${TIMEOUT_MS:-10000}"
PORT="${PORT:-18090}"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
sluse="${SLUSE:-$target_dir/release/sluse}"

# The client holds N sockets and the gateway N connections: each process needs N fds and some.
need=$((N + 1024))
hard="$(ulimit -Hn)"
if [[ "$hard" != unlimited && "$hard" -lt "$need" ]]; then
  echo "ulimit -Hn is $hard; $need file descriptors are needed (raise the hard limit)" >&2
  exit 1
fi
ulimit -n "$need"

if [[ ! -x "$sluse" ]]; then
  (cd "$root" && nice cargo build --release --bin sluse)
fi

work="$(mktemp -d "${TMPDIR:-/var/tmp}/sluse-idle.XXXXXX")"
gw_pid=""
cleanup() {
  [[ -n "$gw_pid" ]] && kill "$gw_pid" 2>/dev/null && wait "$gw_pid" 2>/dev/null
  if [[ "${KEEP:-}" == 1 ]]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

SLUSE_SERVER__HEADER_READ_TIMEOUT_MS="$TIMEOUT_MS" \
  "$sluse" demo --data-dir "$work/demo" --port "$PORT" >"$work/demo.out" 2>"$work/gateway.log" &
gw_pid=$!
for _ in $(seq 150); do
  grep -q 'Stop with Ctrl-C' "$work/demo.out" 2>/dev/null && break
  kill -0 "$gw_pid" 2>/dev/null || { cat "$work/gateway.log" >&2; exit 1; }
  sleep 0.2
done
grep -q 'Stop with Ctrl-C' "$work/demo.out" || { echo "the demo did not start" >&2; exit 1; }
token="$(sed -n "s/^export TOKEN_JONAS_KP='\(.*\)'\$/\1/p" "$work/demo.out")"

echo "gateway: $sluse (pid $gw_pid), fd limit $(awk '/Max open files/{print $4}' "/proc/$gw_pid/limits"); $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$here/idle_connections.py" --port "$PORT" --connections "$N" --token "$token" \
  --pid "$gw_pid" --timeout-ms "$TIMEOUT_MS"
