#!/usr/bin/env bash
# A/B of two `sluse` binaries on the disclosure path: alternates them, each run a fresh
# `sluse demo` driven by wrk with bench/notice.lua and bench/pull.lua, and prints per run the
# requests/s, the gateway's CPU per request and its RSS. This machine's speed drifts by ±15 %
# within minutes, so compare binaries only in alternation, never against an earlier day's figure.
#
#   cp target/release/sluse /var/tmp/sluse-a   # … change, rebuild …
#   flock /var/tmp/sluse-bench.lock bench/ab.sh /var/tmp/sluse-a target/release/sluse
#
# Environment: PAIRS (3), CONNS (64), SECS (8 per endpoint), ENDPOINTS ("notices pulls"),
# PORT (18301), GW_ENV (e.g. "MIMALLOC_PURGE_DELAY=0", for the gateway only).
set -euo pipefail
[[ $# == 2 ]] || { echo "usage: bench/ab.sh BINARY_A BINARY_B" >&2; exit 2; }
here="$(cd "$(dirname "$0")" && pwd)"
PAIRS=${PAIRS:-3} CONNS=${CONNS:-64} SECS=${SECS:-8} ENDPOINTS=${ENDPOINTS:-notices pulls}
PORT=${PORT:-18301}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
clk_tck="$(getconf CLK_TCK)"

# one BINARY → a line "rps cpu_us rss_mib hwm_mib" per endpoint
one() {
  local work pid
  work=$(mktemp -d "${TMPDIR:-/var/tmp}/sluse-ab.XXXXXX")
  env ${GW_ENV:-} "$1" demo --data-dir "$work/demo" --port "$PORT" >"$work/demo.out" 2>"$work/gw.log" &
  pid=$!
  trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' RETURN
  for _ in $(seq 150); do grep -q 'Stop with Ctrl-C' "$work/demo.out" 2>/dev/null && break; sleep 0.2; done
  grep -q 'Stop with Ctrl-C' "$work/demo.out" || { cat "$work/gw.log" >&2; return 1; }
  token() { sed -n "s/^export $1='\(.*\)'\$/\1/p" "$work/demo.out"; }
  local emma script path tok e t0 t1 line req rps
  emma="$(sed -n 's/.*EMMA=\([0-9-]*\);.*/\1/p' "$work/demo.out" | head -1)"
  for e in $ENDPOINTS; do
    case $e in
      notices) script=notice.lua path=/v1/notices tok=$(token TOKEN_NORDSKOLEN_SYSTEM) ;;
      pulls) script=pull.lua path=/v1/requests tok=$(token TOKEN_JONAS_KP) ;;
      *) echo "ENDPOINTS: notices and/or pulls" >&2; return 1 ;;
    esac
    t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    line=$(BENCH_DIR="$here" TOKEN="$tok" SUBJECT="$emma" RUN="ab-$$-$RANDOM-$e" \
      wrk -t2 -c"$CONNS" -d"${SECS}s" -s "$here/$script" "http://127.0.0.1:$PORT$path" | grep '^RESULT')
    t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    req=$(sed 's/.*requests=\([0-9]*\).*/\1/' <<<"$line")
    rps=$(sed 's/.*rps=\([0-9.]*\).*/\1/' <<<"$line")
    printf '%-8s %8.0f req/s  cpu %4d µs/req  RSS %3d MiB  peak %3d MiB\n' "$e" "$rps" \
      $(( (t1 - t0) * 1000000 / clk_tck / req )) \
      $(awk '/VmRSS/{print int($2 / 1024)}' "/proc/$pid/status") \
      $(awk '/VmHWM/{print int($2 / 1024)}' "/proc/$pid/status")
  done
}

# A B, then B A: the second run of a pair can be the faster whatever it runs (bench/ab-pg.sh).
for pair in $(seq "$PAIRS"); do
  sides="A B"
  (( pair % 2 == 0 )) && sides="B A"
  for side in $sides; do
    bin=$1; [[ $side == B ]] && bin=$2
    one "$bin" | sed "s/^/pair $pair $side  /"
  done
done
