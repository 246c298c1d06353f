#!/usr/bin/env bash
# Load benchmark of the gateway's disclosure path against a bare axum endpoint, interleaved in one
# run, with each server's resident memory (VmRSS during and after each run, VmHWM). See
# bench/README.md for what it measures and the latest figures.
#
#   bench/load.sh                      # 10 s per measurement, 16 and 64 connections, 1 round
#   DURATION=20 ROUNDS=3 bench/load.sh
#
# Environment: DURATION (s, default 10), CONNS ("16 64"), THREADS (wrk threads, 2), ROUNDS (1),
# WARMUP (s, 2), GW_PORT (18080), BARE_PORT (18081), BARE_TLS_PORT (18443), NO_BUILD=1 (use what is
# built), CARGO_TARGET_DIR (as cargo), KEEP=1 (keep the temporary directory with the logs).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
DURATION="${DURATION:-10}"
CONNS="${CONNS:-16 64}"
THREADS="${THREADS:-2}"
ROUNDS="${ROUNDS:-1}"
WARMUP="${WARMUP:-2}"
GW_PORT="${GW_PORT:-18080}"
BARE_PORT="${BARE_PORT:-18081}"
BARE_TLS_PORT="${BARE_TLS_PORT:-18443}"
target_dir="${CARGO_TARGET_DIR:-$root/target}"

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
command -v jq >/dev/null || { echo "jq is missing: apt-get install jq" >&2; exit 1; }

if [[ "${NO_BUILD:-}" != 1 ]]; then
  (cd "$root" && nice cargo build --release --bin sluse --example bare)
fi
sluse="$target_dir/release/sluse"
bare="$target_dir/release/examples/bare"

work="$(mktemp -d "${TMPDIR:-/var/tmp}/sluse-load.XXXXXX")"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ "${KEEP:-}" == 1 ]]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# --- the servers ---------------------------------------------------------------------------------
"$sluse" demo --data-dir "$work/demo" --port "$GW_PORT" >"$work/demo.out" 2>"$work/gateway.log" &
gw_pid=$!
pids+=("$gw_pid")
"$bare" --plain "127.0.0.1:$BARE_PORT" --tls "127.0.0.1:$BARE_TLS_PORT" 2>"$work/bare.log" &
bare_pid=$!
pids+=("$bare_pid")

for _ in $(seq 100); do
  grep -q 'Stop with Ctrl-C' "$work/demo.out" 2>/dev/null \
    && curl -fs "http://127.0.0.1:$BARE_PORT/" >/dev/null 2>&1 && break
  kill -0 "$gw_pid" 2>/dev/null || { cat "$work/gateway.log" >&2; exit 1; }
  sleep 0.2
done
grep -q 'Stop with Ctrl-C' "$work/demo.out" || { echo "the demo did not start" >&2; exit 1; }

token() { sed -n "s/^export $1='\(.*\)'\$/\1/p" "$work/demo.out"; }
school_token="$(token TOKEN_NORDSKOLEN_SYSTEM)"
kp_token="$(token TOKEN_JONAS_KP)"
emma="$(sed -n 's/.*EMMA=\([0-9-]*\);.*/\1/p' "$work/demo.out" | head -1)"
[[ -n "$school_token" && -n "$kp_token" && -n "$emma" ]] || { echo "cannot read the demo's tokens" >&2; exit 1; }
gw="http://127.0.0.1:$GW_PORT"

# --- sanity: the measured requests are the permitted ones ---------------------------------------
notice_body="$(jq -cn --arg s "$emma" '{kind:"absence",subject:$s,data:{period:{from:"2026-08-10",to:"2026-10-31"},
  unlawful_absence_pct:18,absence_band:">=15",parent_contacts:3,
  actions_taken:"Ringet til mor på 22 33 44 55",absence_reasons:"migræne"}}')"
answer="$(curl -fsS -X POST "$gw/v1/notices" -H "Authorization: Bearer $school_token" \
  -H 'content-type: application/json' -H "Idempotency-Key: sanity-$$" -d "$notice_body")"
[[ "$(jq '.deliveries | length' <<<"$answer")" == 2 && "$(jq '.withheld | length' <<<"$answer")" == 0 ]] \
  || { echo "the notice is not delivered to two recipients: $answer" >&2; exit 1; }
answer="$(curl -fsS -X POST "$gw/v1/requests" -H "Authorization: Bearer $kp_token" \
  -H 'content-type: application/json' \
  -d "$(jq -cn --arg s "$emma" '{subject:$s,category:"social.measures",purpose:"kui.contact_person",source:"social-services"}')")"
[[ "$(jq -r '.data | type' <<<"$answer")" == object ]] \
  || { echo "the pull request is not permitted: $answer" >&2; exit 1; }

# --- the disk ------------------------------------------------------------------------------------
fsync_line="n/a"
pg_test_fsync="$(ls /usr/lib/postgresql/*/bin/pg_test_fsync 2>/dev/null | tail -1 || true)"
if [[ -n "$pg_test_fsync" ]]; then
  # fdatasync of one 8 KiB write, as a WAL commit does; the same filesystem as the database.
  "$pg_test_fsync" -s 3 -f "$work/fsync.probe" >"$work/fsync.txt" 2>&1 || true
  fsync_line="$(awk '/one 8kB write/{f=1} f && /^[ \t]+fdatasync/ && !done {print $2 " ops/s, " $4 " µs/op (pg_test_fsync: fdatasync of one 8 KiB write)"; done=1}' "$work/fsync.txt")"
else
  start=$(date +%s%N)
  dd if=/dev/zero of="$work/fsync.probe" bs=8k count=200 oflag=dsync 2>/dev/null
  end=$(date +%s%N)
  fsync_line="$(( (end - start) / 200 / 1000 )) µs/op (dd oflag=dsync, 8 KiB)"
fi

# --- measurements --------------------------------------------------------------------------------
clk_tck="$(getconf CLK_TCK)"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# Resident memory of a process in KiB from /proc/PID/status: VmRSS (now) or VmHWM (peak since start).
mem_kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
mib() { awk -v k="$1" 'BEGIN{printf "%.1f", k / 1024}'; }
# Samples VmRSS of PID every 0.2 s into FILE until killed.
sample_rss() { while kill -0 "$1" 2>/dev/null; do mem_kib "$1" VmRSS >>"$2"; sleep 0.2; done; }

# run NAME CONNS URL SCRIPT PID [ENV...] → appends one TSV line to $work/results.tsv
run() {
  local name=$1 conns=$2 url=$3 script=$4 pid=$5
  shift 5
  env BENCH_DIR="$here" "$@" wrk -t"$THREADS" -c"$conns" -d"${WARMUP}s" -s "$here/$script" "$url" >/dev/null
  local before after out sampler
  : >"$work/rss.samples"
  sample_rss "$pid" "$work/rss.samples" &
  sampler=$!
  before="$(cpu_ticks "$pid")"
  out="$(env BENCH_DIR="$here" "$@" wrk -t"$THREADS" -c"$conns" -d"${DURATION}s" --latency -s "$here/$script" "$url")"
  after="$(cpu_ticks "$pid")"
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  # The server's resident memory during the run (max of the samples), right after it, and its peak.
  local rss_max rss_after hwm
  rss_max="$(mib "$(sort -n "$work/rss.samples" | tail -1)")"
  rss_after="$(mib "$(mem_kib "$pid" VmRSS)")"
  hwm="$(mib "$(mem_kib "$pid" VmHWM)")"
  echo "$out" >>"$work/wrk.log"
  local line
  line="$(grep '^RESULT' <<<"$out")"
  local requests rps p50 p99 errors
  requests="$(sed 's/.*requests=\([0-9]*\).*/\1/' <<<"$line")"
  rps="$(sed 's/.*rps=\([0-9.]*\).*/\1/' <<<"$line")"
  p50="$(sed 's/.*p50_us=\([0-9]*\).*/\1/' <<<"$line")"
  p99="$(sed 's/.*p99_us=\([0-9]*\).*/\1/' <<<"$line")"
  errors="$(awk '{s=0; for(i=7;i<=NF;i++){split($i,a,"="); s+=a[2]} print s}' <<<"$line")"
  local cpu_us
  cpu_us="$(awk -v b="$before" -v a="$after" -v n="$requests" -v t="$clk_tck" 'BEGIN{printf "%.1f", n ? (a-b)*1e6/t/n : 0}')"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$conns" "$name" "$rps" "$p50" "$p99" "$errors" "$cpu_us" \
    "$rss_max" "$rss_after" "$hwm" >>"$work/results.tsv"
  printf '  %-12s c=%-3s %9.0f req/s  p50 %6s µs  p99 %6s µs  errors %s  cpu %s µs/req  RSS max %s MiB, after %s MiB, peak %s MiB\n' \
    "$name" "$conns" "$rps" "$p50" "$p99" "$errors" "$cpu_us" "$rss_max" "$rss_after" "$hwm" >&2
}

echo "load: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); ${DURATION}s per run, wrk -t$THREADS" >&2
gw_rss_idle="$(mib "$(mem_kib "$gw_pid" VmRSS)")"
echo "gateway RSS before the load: $gw_rss_idle MiB" >&2
: >"$work/results.tsv"
run_id="$(date +%s)-$$"
for round in $(seq "$ROUNDS"); do
  for conns in $CONNS; do
    run bare-plain "$conns" "http://127.0.0.1:$BARE_PORT/" get.lua "$bare_pid"
    run notices "$conns" "$gw/v1/notices" notice.lua "$gw_pid" \
      TOKEN="$school_token" SUBJECT="$emma" RUN="$run_id-$round-$conns"
    run bare-tls "$conns" "https://127.0.0.1:$BARE_TLS_PORT/" get.lua "$bare_pid"
    run pulls "$conns" "$gw/v1/requests" pull.lua "$gw_pid" TOKEN="$kp_token" SUBJECT="$emma"
  done
done
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
gw_rss_end="$(mib "$(mem_kib "$gw_pid" VmRSS)")"
gw_hwm_end="$(mib "$(mem_kib "$gw_pid" VmHWM)")"

# --- the trail is intact after the load ----------------------------------------------------------
dpo_token="$(token TOKEN_DORTE_DPO)"
verify="$(curl -fsS "$gw/v1/audit/verify" -H "Authorization: Bearer $dpo_token" || echo '{}')"

# --- report --------------------------------------------------------------------------------------
echo
echo "disk fsync: $fsync_line"
echo "load average after: $load_after; audit verify: $(jq -c '{ok, records: (.records // .checked // null)}' <<<"$verify" 2>/dev/null || echo "$verify")"
echo "gateway (\`sluse demo\`, its simulated sources included) RSS: $gw_rss_idle MiB before the load," \
  "$gw_rss_end MiB after it, peak (VmHWM) $gw_hwm_end MiB (goal ≤ 100 MiB)"
echo
echo "| round | conns | endpoint | req/s | × bare plain | p50 µs | p99 µs | errors | server CPU µs/req | server RSS max / after / peak MiB |"
echo "|---|---|---|---|---|---|---|---|---|---|"
awk -F'\t' '
  { key = $1 SUBSEP $2; if ($3 == "bare-plain") base[key] = $4; rows[NR] = $0 }
  END {
    for (i = 1; i <= NR; i++) {
      split(rows[i], f, "\t"); key = f[1] SUBSEP f[2]
      ratio = (base[key] > 0) ? sprintf("%.3f", f[4] / base[key]) : "-"
      printf "| %s | %s | %s | %.0f | %s | %s | %s | %s | %s | %s / %s / %s |\n", f[1], f[2], f[3], f[4], ratio, f[5], f[6], f[7], f[8], f[9], f[10], f[11]
    }
  }' "$work/results.tsv"
