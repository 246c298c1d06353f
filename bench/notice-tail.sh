#!/usr/bin/env bash
# The tail of the notices' latency and what the SQLite housekeeping did meanwhile, for one or more
# `sluse` binaries, alternated: each run is a fresh `sluse demo` under `wrk` with
# bench/notice.lua, and prints requests/s, p50/p99, and from the gateway's /metrics over the
# run the WAL restarts (count, seconds under the write lock), the lookup indexer's passes (count,
# seconds), and how many records the lookups trailed the chain by when the load stopped.
#
#   flock /var/tmp/sluse-bench.lock bench/notice-tail.sh /var/tmp/sluse-a target/release/sluse
#
# Environment: PAIRS (3), CONNS (16), SECS (10), PORT (18302).
set -euo pipefail
[[ $# -ge 1 ]] || { echo "usage: bench/notice-tail.sh BINARY [BINARY ...]" >&2; exit 2; }
here="$(cd "$(dirname "$0")" && pwd)"
PAIRS=${PAIRS:-3} CONNS=${CONNS:-16} SECS=${SECS:-10} PORT=${PORT:-18302}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
metrics='^sluse_(sqlite_wal_restart_seconds_(sum|count)|audit_batch_size_sum|audit_lookups_index_seconds_(sum|count)|audit_lookups_indexed_total) '

# one BINARY → one line of figures
one() {
  local work pid
  work=$(mktemp -d "${TMPDIR:-/var/tmp}/sluse-tail.XXXXXX")
  "$1" demo --data-dir "$work/demo" --port "$PORT" >"$work/demo.out" 2>"$work/gw.log" &
  pid=$!
  trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' RETURN
  for _ in $(seq 150); do grep -q 'Stop with Ctrl-C' "$work/demo.out" 2>/dev/null && break; sleep 0.2; done
  grep -q 'Stop with Ctrl-C' "$work/demo.out" || { cat "$work/gw.log" >&2; return 1; }
  local tok emma url="http://127.0.0.1:$PORT"
  tok="$(sed -n "s/^export TOKEN_NORDSKOLEN_SYSTEM='\(.*\)'\$/\1/p" "$work/demo.out")"
  emma="$(sed -n 's/.*EMMA=\([0-9-]*\);.*/\1/p' "$work/demo.out" | head -1)"
  BENCH_DIR="$here" TOKEN="$tok" SUBJECT="$emma" RUN="warm-$$" \
    wrk -t2 -c"$CONNS" -d2s -s "$here/notice.lua" "$url/v1/notices" >/dev/null
  curl -fsS "$url/metrics" | grep -E "$metrics" | sort >"$work/before"
  local line
  line="$(BENCH_DIR="$here" TOKEN="$tok" SUBJECT="$emma" RUN="run-$$-$RANDOM" \
    wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s "$here/notice.lua" "$url/v1/notices" | grep '^RESULT')"
  curl -fsS "$url/metrics" | grep -E "$metrics" | sort >"$work/after"
  join "$work/before" "$work/after" | awk -v line="$line" '
    { d[$1] = $3 - $2; total[$1] = $3 }
    END {
      split(line, f, " "); for (i in f) { split(f[i], kv, "="); r[kv[1]] = kv[2] }
      printf "%8.0f req/s  p50 %5.2f ms  p99 %5.2f ms  WAL restarts %3d (%.3f s)  indexer passes %3d (%.2f s)  lookups behind %d\n",
        r["rps"], r["p50_us"] / 1000, r["p99_us"] / 1000,
        d["sluse_sqlite_wal_restart_seconds_count"], d["sluse_sqlite_wal_restart_seconds_sum"],
        d["sluse_audit_lookups_index_seconds_count"], d["sluse_audit_lookups_index_seconds_sum"],
        total["sluse_audit_batch_size_sum"] - total["sluse_audit_lookups_indexed_total"]
    }'
}

for pair in $(seq "$PAIRS"); do
  for binary in "$@"; do
    printf '%s  %-40s ' "$pair" "$binary"
    one "$binary"
  done
done
