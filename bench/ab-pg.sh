#!/usr/bin/env bash
# A/B of `sluse` binaries (and schema variants) on PostgreSQL, through bench/load-pg.sh: each run
# a fresh database and replicas, the variants taken in A B, B A, A B … order, then the median of
# each variant's runs.
#
# The order alternates because it matters on these machines: in session 11, with the same binary
# and schema on both sides, the second run of a pair was 9–16 % faster three times running (a BRIN
# index looked like a win until the order was reversed). The same binary's gateway CPU per notice
# also drifted 156–208 µs between runs minutes apart: compare only within one invocation.
#
#   bench/ab-pg.sh base=/var/tmp/sluse-a new=target/release/sluse
#   bench/ab-pg.sh 'heap=target/release/sluse' \
#     'brin=target/release/sluse:DROP INDEX audit_log_by_at; CREATE INDEX audit_log_by_at ON audit_log USING brin (at)'
#
# A variant is NAME=BINARY[:SQL]; SQL is run on the bench database before measuring (load-pg.sh's
# PG_SETUP_SQL). Environment: ROUNDS (4), CONNS (256), REPLICAS (2), ENDPOINTS (notices),
# DURATION (10), and the rest of load-pg.sh's.
set -euo pipefail
[[ $# -ge 2 ]] || { echo "usage: bench/ab-pg.sh NAME=BINARY[:SQL] NAME=BINARY[:SQL] ..." >&2; exit 2; }
here="$(cd "$(dirname "$0")" && pwd)"
ROUNDS=${ROUNDS:-4} CONNS=${CONNS:-256} REPLICAS=${REPLICAS:-2} ENDPOINTS=${ENDPOINTS:-notices}
work=$(mktemp -d "${TMPDIR:-/var/tmp}/sluse-ab-pg.XXXXXX")
trap 'rm -rf "$work"' EXIT

# load-pg.sh runs $CARGO_TARGET_DIR/release/sluse: a directory with that link per variant.
names=()
for variant in "$@"; do
  name=${variant%%=*} rest=${variant#*=}
  binary=${rest%%:*} sql="SELECT 1"
  [[ "$rest" == *:* ]] && sql=${rest#*:}
  [[ -x "$binary" ]] || { echo "$name: $binary is not an executable" >&2; exit 2; }
  mkdir -p "$work/$name/release"
  ln -s "$(realpath "$binary")" "$work/$name/release/sluse"
  printf '%s' "$sql" >"$work/$name/sql"
  names+=("$name")
done

echo "| variant | round | conns | endpoint | replicas | disclosures/s | p99 µs | errors | audit records/s | CPU µs/req gateways | PostgreSQL | wrk | machine busy |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for round in $(seq "$ROUNDS"); do
  order=("${names[@]}")
  if (( round % 2 == 0 )); then
    order=()
    for (( i = ${#names[@]} - 1; i >= 0; i-- )); do order+=("${names[$i]}"); done
  fi
  for name in "${order[@]}"; do
    NO_BUILD=1 ROUNDS=1 CARGO_TARGET_DIR="$work/$name" CONNS="$CONNS" REPLICAS="$REPLICAS" \
      ENDPOINTS="$ENDPOINTS" PG_SETUP_SQL="$(cat "$work/$name/sql")" "$here/load-pg.sh" \
      | awk -F' *[|] *' -v n="$name" -v r="$round" '/^[|] [0-9]+ [|]/ {
          printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
            n, r, $3, $4, $5, $6, $8, $9, $10, $11, $12, $13, $14 }' \
      | tee -a "$work/rows"
  done
done

echo
echo "Medians over $ROUNDS rounds:"
for name in "${names[@]}"; do
  awk -F' *[|] *' -v n="$name" '$2 == n { d[++k] = $7; a[k] = $10; g[k] = $11; p[k] = $12 }
    function median(x, m,   i, j, t) { for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++)
        if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t }
      return m % 2 ? x[(m + 1) / 2] : (x[m / 2] + x[m / 2 + 1]) / 2 }
    END { if (k) printf "  %-12s disclosures/s %7.0f  audit records/s %7.0f  CPU µs/req gateways %5.0f, PostgreSQL %5.0f\n",
      n, median(d, k), median(a, k), median(g, k), median(p, k) }' "$work/rows"
done
