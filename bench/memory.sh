#!/usr/bin/env bash
# Where the gateway's resident memory goes under sustained load (issue #7): starts `sluse demo`,
# drives permitted pulls and/or notices with wrk, and after every run prints VmRSS, RssAnon, the
# thread count, SQLite's own heap (`sqlite3_memory_used()`) and the part of it that is page cache
# (`SQLITE_STATUS_PAGECACHE_OVERFLOW`), read from the live process with gdb; at the end glibc's
# `malloc_stats()` per arena (in use vs. held from the system), smaps_rollup, and VmRSS after
# `malloc_trim(0)`. Figures and what they showed: docs/measurements.md, decision 0014.
#
#   bench/memory.sh                                  # pulls, 64 connections, 6 runs of 30 s
#   ENDPOINT=mix ROUNDS=2 bench/memory.sh            # notices/pulls at 16 and 64 connections, as load.sh
#   ENDPOINT=notices CONNS=256 bench/memory.sh
#
# Environment: ENDPOINT (pulls | notices | mix), CONNS (64), SECS (30), ROUNDS (6), PORT (18280),
# SLUSE (the binary; default $CARGO_TARGET_DIR/release/sluse), GW_ENV (e.g. MALLOC_ARENA_MAX=2, set
# for the gateway only). Needs wrk, jq, gdb and a release build with symbols (the default profile).
# Wrap it in `flock /var/tmp/sluse-bench.lock` like the other benchmarks.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
SLUSE="${SLUSE:-${CARGO_TARGET_DIR:-$root/target}/release/sluse}"
ENDPOINT=${ENDPOINT:-pulls}; CONNS=${CONNS:-64}; SECS=${SECS:-30}; ROUNDS=${ROUNDS:-6}; PORT=${PORT:-18280}
for tool in wrk jq gdb; do command -v $tool >/dev/null || { echo "$tool is missing" >&2; exit 1; }; done

work=$(mktemp -d "${TMPDIR:-/var/tmp}/sluse-memory.XXXXXX")
env ${GW_ENV:-} "$SLUSE" demo --data-dir "$work/demo" --port "$PORT" >"$work/demo.out" 2>"$work/gateway.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q 'Stop with Ctrl-C' "$work/demo.out" 2>/dev/null && break; sleep 0.2; done
token() { sed -n "s/^export $1='\(.*\)'\$/\1/p" "$work/demo.out"; }
kp=$(token TOKEN_JONAS_KP); school=$(token TOKEN_NORDSKOLEN_SYSTEM)
emma=$(sed -n 's/.*EMMA=\([0-9-]*\);.*/\1/p' "$work/demo.out" | head -1)

status() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$pid/status"; }
report() {
  # $2 and $4 are gdb's value history: SQLITE_STATUS_MEMORY_USED (0), _PAGECACHE_OVERFLOW (2).
  local g used cache
  g=$(gdb -q -p "$pid" -batch -ex 'set $p = (long long*)malloc(16)' \
    -ex 'call (int)sqlite3_status64(0, $p, $p+1, 0)' -ex 'print $p[0]' \
    -ex 'call (int)sqlite3_status64(2, $p, $p+1, 0)' -ex 'print $p[0]' -ex 'call (void)free($p)' 2>/dev/null | grep '^\$')
  used=$(sed -n 's/^\$2 = //p' <<<"$g"); cache=$(sed -n 's/^\$4 = //p' <<<"$g")
  echo "$1: VmRSS $(status VmRSS) KiB, RssAnon $(status RssAnon) KiB, threads $(status Threads)," \
    "SQLite heap $((used / 1024)) KiB (page cache $((cache / 1024)) KiB)," \
    "database $(du -m "$work/demo/sluse.db" | cut -f1) MB," \
    "audit records $(curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^sluse_audit_batch_size_sum/{print $2}')"
}
pulls() {
  env BENCH_DIR="$here" TOKEN="$kp" SUBJECT="$emma" \
    wrk -t2 -c"$1" -d"${SECS}s" -s "$here/pull.lua" "http://127.0.0.1:$PORT/v1/requests"
}
notices() {
  env BENCH_DIR="$here" TOKEN="$school" SUBJECT="$emma" RUN="memory-$$-$2-$1" \
    wrk -t2 -c"$1" -d"${SECS}s" -s "$here/notice.lua" "http://127.0.0.1:$PORT/v1/notices"
}

report start
for round in $(seq "$ROUNDS"); do
  case $ENDPOINT in
    pulls | notices) runs="$ENDPOINT:$CONNS" ;;
    mix) runs="notices:16 pulls:16 notices:64 pulls:64" ;;
    *) echo "ENDPOINT is pulls, notices or mix" >&2; exit 1 ;;
  esac
  for run in $runs; do
    out=$(${run%%:*} "${run##*:}" "$round")
    echo "$run $(grep '^RESULT' <<<"$out" | sed 's/ p50_us.*//')"
    report "  round $round $run"
  done
done
gdb -q -p "$pid" -batch -ex 'call (void)malloc_stats()' >/dev/null 2>&1 || true
sleep 0.5
echo "--- glibc malloc_stats() per arena"
grep -E '^(Arena|Total|system bytes|in use bytes)' "$work/gateway.log" | paste - - - | tail -20
echo "--- smaps_rollup"
grep -E '^(Rss|Pss_Anon|Pss_File|Private_Dirty|Anonymous)' "/proc/$pid/smaps_rollup"
gdb -q -p "$pid" -batch -ex 'call (int)malloc_trim(0)' >/dev/null 2>&1 || true
report "after malloc_trim(0)"
