#!/usr/bin/env bash
# Load benchmark of the disclosure path on PostgreSQL, with one and with two gateway replicas on one
# database (issue 6). See bench/README.md ("PostgreSQL, one and two replicas") for the figures.
#
# It creates a fresh database sluse_bench_<pid> on the server of PG_ADMIN_URL (dropped at the end),
# starts `sluse demo --database-url` on it (replica 1, which also runs the simulated source systems)
# and `sluse serve --config <demo dir>/sluse.toml` on another port (replica 2: same database, keys,
# demo issuer and sources), checks that the measured requests are permitted on both, then for each
# connection count, endpoint and replica count drives the replicas with one wrk each, in parallel,
# the connections split evenly (16 total with 2 replicas = 8 + 8).
#
# Other engineers benchmark on this machine too: build first, then measure under the shared lock:
#
#   CARGO_TARGET_DIR=/var/tmp/sluse-wt-pgbench cargo build --release --locked --bin sluse --example bare
#   CARGO_TARGET_DIR=/var/tmp/sluse-wt-pgbench flock /var/tmp/sluse-bench.lock env NO_BUILD=1 bench/load-pg.sh
#
# Environment: DURATION (s, default 10), CONNS (total connections, "16 64"), REPLICAS ("1 2"),
# ENDPOINTS ("notices pulls"), THREADS (total wrk threads, 2), ROUNDS (1), WARMUP (s, 2),
# GW_PORT (18290), GW2_PORT (18291), GW3_PORT (18292, replica 1 with GW_CPU),
# PG_ADMIN_URL (postgres://postgres@127.0.0.1:5432/test),
# PG_SETUP_SQL (SQL run on the bench database after the sanity checks, before measuring: an
# experiment's schema change), PIN_GW / PIN_WRK (CPU lists for `taskset -c`: the replicas / wrk; unset = not pinned; the
# PostgreSQL server is shared and never pinned), GW_CPU (cores each replica may use, as a pod's
# `resources.limits.cpu`, e.g. 0.4: a cgroup-v1 CPU quota under /sys/fs/cgroup/cpu, needs root;
# unset = no limit), NO_BUILD=1, CARGO_TARGET_DIR, KEEP=1 (keep logs).
#
# With GW_CPU the replicas, not PostgreSQL, are the bottleneck (issue 6: "two replicas ≥ 1.6× one
# when the database is not the bottleneck"), which two shared cores cannot otherwise show.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
DURATION="${DURATION:-10}"
CONNS="${CONNS:-16 64}"
REPLICAS="${REPLICAS:-1 2}"
ENDPOINTS="${ENDPOINTS:-notices pulls}"
THREADS="${THREADS:-2}"
ROUNDS="${ROUNDS:-1}"
WARMUP="${WARMUP:-2}"
GW_PORT="${GW_PORT:-18290}"
GW2_PORT="${GW2_PORT:-18291}"
GW3_PORT="${GW3_PORT:-18292}"
PG_ADMIN_URL="${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/test}"
PIN_GW="${PIN_GW:-}"
PIN_WRK="${PIN_WRK:-}"
GW_CPU="${GW_CPU:-}"
target_dir="${CARGO_TARGET_DIR:-$root/target}"

for tool in wrk jq psql; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: apt-get install wrk jq postgresql-client" >&2; exit 1; }
done
for n in $REPLICAS; do
  [[ "$n" == 1 || "$n" == 2 ]] || { echo "REPLICAS: 1 and/or 2" >&2; exit 1; }
done

if [[ "${NO_BUILD:-}" != 1 ]]; then
  (cd "$root" && nice cargo build --release --locked --bin sluse)
fi
sluse="$target_dir/release/sluse"

pin_gw=() pin_wrk=()
[[ -z "$PIN_GW" ]] || pin_gw=(taskset -c "$PIN_GW")
[[ -z "$PIN_WRK" ]] || pin_wrk=(taskset -c "$PIN_WRK")

db="sluse_bench_$$"
db_url="${PG_ADMIN_URL%/*}/$db"
work="$(mktemp -d "${TMPDIR:-/var/tmp}/sluse-load-pg.XXXXXX")"
pids=()
cgroups=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for cg in "${cgroups[@]}"; do rmdir "$cg" 2>/dev/null || true; done
  psql "$PG_ADMIN_URL" -qAtc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  if [[ "${KEEP:-}" == 1 ]]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
for port in "$GW_PORT" "$GW2_PORT" "$GW3_PORT"; do
  ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "port $port is taken (GW_PORT, GW2_PORT, GW3_PORT)" >&2; exit 1; }
done
psql "$PG_ADMIN_URL" -qAtc "CREATE DATABASE $db" >/dev/null
sql() { psql "$db_url" -qAtc "$1"; }

# limit_cpu PID N → replica N's process in a cgroup of its own with GW_CPU cores (nothing unless set)
limit_cpu() {
  [[ -n "$GW_CPU" ]] || return 0
  local cg="/sys/fs/cgroup/cpu/sluse-bench-$$-$2"
  mkdir "$cg" 2>/dev/null || { echo "cannot create $cg (GW_CPU needs root and cgroup v1's cpu controller)" >&2; exit 1; }
  cgroups+=("$cg")
  awk -v c="$GW_CPU" 'BEGIN { printf "%d\n", c * 100000 }' >"$cg/cpu.cfs_quota_us"
  echo "$1" >"$cg/cgroup.procs"
}

# --- the replicas --------------------------------------------------------------------------------
# `sluse demo` seeds the database and runs the simulated source systems. Without GW_CPU it is
# replica 1 as well. With GW_CPU both measured replicas are `sluse serve`, each under its limit,
# and the demo process, unlimited because its sources answer both replicas' pulls, serves no
# measured request (its CPU then shows under "others").
"${pin_gw[@]}" "$sluse" demo --data-dir "$work/demo" --port "$GW_PORT" --database-url "$db_url" \
  >"$work/demo.out" 2>"$work/demo.log" &
demo_pid=$!
pids+=("$demo_pid")
for _ in $(seq 150); do
  grep -q 'Stop with Ctrl-C' "$work/demo.out" 2>/dev/null && break
  kill -0 "$demo_pid" 2>/dev/null || { cat "$work/demo.log" >&2; exit 1; }
  sleep 0.2
done
grep -q 'Stop with Ctrl-C' "$work/demo.out" || { echo "the demo did not start" >&2; exit 1; }

gw_pids=() gws=()
# start_serve N PORT → replica N: `sluse serve` on the demo's config, listening on PORT
start_serve() {
  local pid url="http://127.0.0.1:$2"
  SLUSE_SERVER__LISTEN="127.0.0.1:$2" "${pin_gw[@]}" "$sluse" serve --config "$work/demo/sluse.toml" \
    >/dev/null 2>"$work/gateway$1.log" &
  pid=$!
  pids+=("$pid") gw_pids+=("$pid") gws+=("$url")
  limit_cpu "$pid" "$1"
  for _ in $(seq 100); do
    curl -fs "$url/readyz" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/gateway$1.log" >&2; exit 1; }
    sleep 0.2
  done
  curl -fs "$url/readyz" >/dev/null || { echo "replica $1 did not start" >&2; exit 1; }
}
if [[ -n "$GW_CPU" ]]; then
  start_serve 1 "$GW3_PORT"
else
  gw_pids=("$demo_pid") gws=("http://127.0.0.1:$GW_PORT")
fi
start_serve 2 "$GW2_PORT"

token() { sed -n "s/^export $1='\(.*\)'\$/\1/p" "$work/demo.out"; }
school_token="$(token TOKEN_NORDSKOLEN_SYSTEM)"
kp_token="$(token TOKEN_JONAS_KP)"
dpo_token="$(token TOKEN_DORTE_DPO)"
emma="$(sed -n 's/.*EMMA=\([0-9-]*\);.*/\1/p' "$work/demo.out" | head -1)"
[[ -n "$school_token" && -n "$kp_token" && -n "$emma" ]] || { echo "cannot read the demo's tokens" >&2; exit 1; }

# --- sanity: the measured requests are the permitted ones, on both replicas ----------------------
notice_body="$(jq -cn --arg s "$emma" '{kind:"absence",subject:$s,data:{period:{from:"2026-08-10",to:"2026-10-31"},
  unlawful_absence_pct:18,absence_band:">=15",parent_contacts:3,
  actions_taken:"Ringet til mor på 22 33 44 55",absence_reasons:"migræne"}}')"
pull_body="$(jq -cn --arg s "$emma" '{subject:$s,category:"social.measures",purpose:"kui.contact_person",source:"social-services"}')"
for i in 0 1; do
  answer="$(curl -fsS -X POST "${gws[$i]}/v1/notices" -H "Authorization: Bearer $school_token" \
    -H 'content-type: application/json' -H "Idempotency-Key: sanity-$$-$i" -d "$notice_body")"
  [[ "$(jq '.deliveries | length' <<<"$answer")" == 2 && "$(jq '.withheld | length' <<<"$answer")" == 0 ]] \
    || { echo "replica $((i + 1)): the notice is not delivered to two recipients: $answer" >&2; exit 1; }
  answer="$(curl -fsS -X POST "${gws[$i]}/v1/requests" -H "Authorization: Bearer $kp_token" \
    -H 'content-type: application/json' -d "$pull_body")"
  [[ "$(jq -r '.data | type' <<<"$answer")" == object ]] \
    || { echo "replica $((i + 1)): the pull request is not permitted: $answer" >&2; exit 1; }
done

# An experiment's schema change (an index dropped, say), run on the bench database before measuring.
[[ -n "${PG_SETUP_SQL:-}" ]] && sql "$PG_SETUP_SQL" >/dev/null

# --- measurements --------------------------------------------------------------------------------
clk_tck="$(getconf CLK_TCK)"
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
gw_ticks() { local s=0 p; for p in "${gw_pids[@]}"; do s=$((s + $(ticks "$p"))); done; echo "$s"; }
# The whole PostgreSQL server: the postmaster, its live children (backends, WAL writer, checkpointer
# …) and, through the postmaster's cutime/cstime, the children that exited meanwhile. Other sessions
# on the server count too (benchmarks do not overlap under the lock; tests may).
backend="$(pgrep -f "postgres: .* $db " | head -1 || true)"
postmaster="$( [[ -n "$backend" ]] && ps -o ppid= -p "$backend" | tr -d ' ' || true)"
[[ -n "$postmaster" && -r "/proc/$postmaster/stat" ]] \
  || { echo "cannot find the PostgreSQL server's processes (is it on this machine?)" >&2; exit 1; }
pg_ticks() {
  local s p
  s="$(awk '{print $14 + $15 + $16 + $17}' "/proc/$postmaster/stat")"
  for p in $(pgrep -P "$postmaster"); do s=$((s + $(ticks "$p"))); done
  echo "$s"
}
# Busy and total jiffies of the whole machine (every core, every process, the neighbours too).
machine() { awk '/^cpu /{busy=$2+$3+$4+$7+$8+$9; print busy, busy+$5+$6}' /proc/stat; }
head_seq() { sql "SELECT seq FROM audit_head"; }
# Sum over both replicas of the appender's histograms: "batches records append_seconds".
appender() {
  local i
  for i in 0 1; do curl -fsS "${gws[$i]}/metrics" || true; done | awk '
    /^sluse_audit_batch_size_count/ {b += $2} /^sluse_audit_batch_size_sum/ {r += $2}
    /^sluse_audit_append_seconds_sum/ {s += $2} END {print b + 0, r + 0, s + 0}'
}
field() { sed "s/.*$1=\([0-9.]*\).*/\1/" <<<"$2"; }

# wrk_one I CONNS THREADS SECONDS ENDPOINT TAG LATENCY → runs one wrk against replica I
wrk_one() {
  local i=$1 conns=$2 threads=$3 seconds=$4 endpoint=$5 tag=$6 latency=$7
  local script path tok
  case "$endpoint" in
    notices) script=notice.lua path=/v1/notices tok=$school_token ;;
    pulls) script=pull.lua path=/v1/requests tok=$kp_token ;;
  esac
  env BENCH_DIR="$here" TOKEN="$tok" SUBJECT="$emma" RUN="$tag-r$i" \
    /usr/bin/time -f 'WRKCPU %U %S' "${pin_wrk[@]}" \
    wrk -t"$threads" -c"$conns" -d"${seconds}s" $latency -s "$here/$script" "${gws[$i]}$path"
}

# run N CONNS ENDPOINT → one measurement with N replicas; appends a TSV line to $work/results.tsv
run() {
  local n=$1 conns=$2 endpoint=$3
  local per=$((conns / n)) threads=$((THREADS / n))
  ((threads >= 1)) || threads=1
  local tag="$run_id-$round-$conns-$n-$endpoint" i p wpids=()
  for ((i = 0; i < n; i++)); do
    wrk_one "$i" "$per" "$threads" "$WARMUP" "$endpoint" "$tag-warm" "" >/dev/null 2>&1 &
    wpids+=($!)
  done
  for p in "${wpids[@]}"; do wait "$p"; done
  wpids=()
  local seq0 gw0 pg0 m0 t0 seq1 gw1 pg1 m1 t1
  local ap0 ap1
  ap0="$(appender)" seq0="$(head_seq)" gw0="$(gw_ticks)" pg0="$(pg_ticks)" m0="$(machine)" t0="$(date +%s%N)"
  for ((i = 0; i < n; i++)); do
    wrk_one "$i" "$per" "$threads" "$DURATION" "$endpoint" "$tag" --latency >"$work/wrk-$i.out" 2>&1 &
    wpids+=($!)
  done
  for p in "${wpids[@]}"; do wait "$p"; done
  t1="$(date +%s%N)" m1="$(machine)" gw1="$(gw_ticks)" pg1="$(pg_ticks)" seq1="$(head_seq)" ap1="$(appender)"
  local requests=0 rps=0 p99=0 errors=0 wrk_cpu=0 line
  for ((i = 0; i < n; i++)); do
    cat "$work/wrk-$i.out" >>"$work/wrk.log"
    line="$(grep '^RESULT' "$work/wrk-$i.out")" || { cat "$work/wrk-$i.out" >&2; exit 1; }
    requests=$((requests + $(field requests "$line")))
    rps="$(awk -v a="$rps" -v b="$(field rps "$line")" 'BEGIN{print a + b}')"
    p99="$(awk -v a="$p99" -v b="$(field p99_us "$line")" 'BEGIN{print (b > a) ? b : a}')"
    errors=$((errors + $(awk '{s=0; for(i=7;i<=NF;i++){split($i,a,"="); s+=a[2]} print s}' <<<"$line")))
    wrk_cpu="$(awk -v a="$wrk_cpu" '/^WRKCPU/{a += $2 + $3} END{print a}' "$work/wrk-$i.out")"
  done
  local secs records rec_s gw_us pg_us wrk_us busy others batch commit_ms
  # Mean records per appender transaction and its mean duration (lock, inserts, commit).
  batch="$(awk -v a="$ap0" -v b="$ap1" 'BEGIN{split(a,x," "); split(b,y," "); n = y[1]-x[1]; printf "%.1f", n ? (y[2]-x[2])/n : 0}')"
  commit_ms="$(awk -v a="$ap0" -v b="$ap1" 'BEGIN{split(a,x," "); split(b,y," "); n = y[1]-x[1]; printf "%.1f", n ? 1000*(y[3]-x[3])/n : 0}')"
  secs="$(awk -v a="$t0" -v b="$t1" 'BEGIN{print (b - a) / 1e9}')"
  records=$((seq1 - seq0))
  rec_s="$(awk -v r="$records" -v s="$secs" 'BEGIN{printf "%.0f", r / s}')"
  gw_us="$(awk -v a="$gw0" -v b="$gw1" -v n="$requests" -v t="$clk_tck" 'BEGIN{printf "%.0f", n ? (b-a)*1e6/t/n : 0}')"
  pg_us="$(awk -v a="$pg0" -v b="$pg1" -v n="$requests" -v t="$clk_tck" 'BEGIN{printf "%.0f", n ? (b-a)*1e6/t/n : 0}')"
  wrk_us="$(awk -v c="$wrk_cpu" -v n="$requests" 'BEGIN{printf "%.0f", n ? c*1e6/n : 0}')"
  busy="$(awk -v a="$m0" -v b="$m1" 'BEGIN{split(a,x," "); split(b,y," "); printf "%.0f", 100*(y[1]-x[1])/(y[2]-x[2])}')"
  # The cores' time used by everything else on the machine (the neighbours' builds and tests).
  others="$(awk -v a="$m0" -v b="$m1" -v g="$((gw1 - gw0))" -v p="$((pg1 - pg0))" -v w="$wrk_cpu" -v t="$clk_tck" \
    'BEGIN{split(a,x," "); split(b,y," "); o = (y[1]-x[1]) - g - p - w*t; printf "%.0f", 100*(o > 0 ? o : 0)/(y[2]-x[2])}')"
  printf '%s\t%s\t%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$conns" "$endpoint" "$n" \
    "$rps" "$p99" "$errors" "$rec_s" "$gw_us" "$pg_us" "$wrk_us" "$busy" "$others" "$batch" "$commit_ms" >>"$work/results.tsv"
  printf '  %-8s c=%-3s replicas=%s %7.0f req/s  p99 %6s µs  errors %s  audit %6s rec/s  cpu µs/req gw %s pg %s wrk %s  machine busy %s%% (others %s%%)  batch %s rec, %s ms\n' \
    "$endpoint" "$conns" "$n" "$rps" "$p99" "$errors" "$rec_s" "$gw_us" "$pg_us" "$wrk_us" "$busy" "$others" "$batch" "$commit_ms" >&2
}

echo "load-pg: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); ${DURATION}s per run," \
  "$THREADS wrk threads in total; ${GW_CPU:-no} CPU limit per replica; PostgreSQL $(sql 'SHOW server_version'), synchronous_commit=$(sql 'SHOW synchronous_commit')" >&2
: >"$work/results.tsv"
run_id="$(date +%s)-$$"
for round in $(seq "$ROUNDS"); do
  for conns in $CONNS; do
    for endpoint in $ENDPOINTS; do
      for n in $REPLICAS; do run "$n" "$conns" "$endpoint"; done
    done
  done
done
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- the trail is intact after the load ----------------------------------------------------------
verify="$(curl -fsS --max-time 600 "${gws[0]}/v1/audit/verify" -H "Authorization: Bearer $dpo_token" || echo '{}')"
rows="$(sql 'SELECT count(*) FROM audit_log')"

# --- report --------------------------------------------------------------------------------------
echo
echo "load average after: $load_after; audit_log rows: $rows, head seq: $(head_seq);" \
  "audit verify: $(jq -c '{ok, records}' <<<"$verify" 2>/dev/null || echo "$verify")"
echo
echo "| round | conns | endpoint | replicas | disclosures/s | × 1 replica | p99 µs | errors | audit records/s | CPU µs/req gateways | PostgreSQL server | wrk | machine busy | of it others | records/batch | ms/batch |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
awk -F'\t' '
  { key = $1 SUBSEP $2 SUBSEP $3; if ($4 == 1) one[key] = $5; rows[NR] = $0 }
  END {
    for (i = 1; i <= NR; i++) {
      split(rows[i], f, "\t"); key = f[1] SUBSEP f[2] SUBSEP f[3]
      ratio = (one[key] > 0) ? sprintf("%.2f", f[5] / one[key]) : "-"
      printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s %% | %s %% | %s | %s |\n", f[1], f[2], f[3], f[4], f[5], ratio, f[6], f[7], f[8], f[9], f[10], f[11], f[12], f[13], f[14], f[15]
    }
  }' "$work/results.tsv"
