#!/usr/bin/env bash
# API fuzzing with a client no one here wrote: schemathesis against /openapi.json of a running demo,
# once per role's token, checking status codes, content types and response schemas (all checks but
# "positive_data_acceptance": a schema-valid request may still be refused with 422 for an unknown id
# or a rule of the policy, which the schema cannot express).
#
#   tools/schemathesis.sh            short pass (CI): a few hundred requests
#   FULL=1 tools/schemathesis.sh     full pass: ≥ 10,000 requests
#
# Installs schemathesis into a virtualenv under $SLUSE_VENV (default /var/tmp/sluse-schemathesis).
set -euo pipefail
cd "$(dirname "$0")/.."

examples=${EXAMPLES:-$([ "${FULL:-0}" = 1 ] && echo 150 || echo 5)}
venv=${SLUSE_VENV:-/var/tmp/sluse-schemathesis}
target=${CARGO_TARGET_DIR:-target}

if [ ! -x "$venv/bin/schemathesis" ]; then
  if ! { python3 -m venv "$venv" && "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis>=4,<5"; }; then
    echo "schemathesis: could not be installed (no python3 venv or no PyPI); skipped"
    exit "${SCHEMATHESIS_REQUIRED:-0}"
  fi
fi

cargo build --quiet --bin sluse
data=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
log="$data/demo.out"
"$target/debug/sluse" demo --data-dir "$data/demo" --port "$port" >"$log" 2>&1 &
demo=$!
trap 'kill $demo 2>/dev/null || true; wait $demo 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 300); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
# Without this, a demo that did not come up (a busy machine, a taken port) surfaced as an unbound
# TOKEN_ variable below.
if ! curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
  echo "schemathesis: the demo did not become ready on port $port:"
  cat "$log"
  exit 1
fi
# shellcheck disable=SC1090
source <(grep '^export TOKEN_' "$log")

status=0
for token in TOKEN_ANNA_KUI TOKEN_JONAS_KP TOKEN_SOFIE_SOCIAL TOKEN_NORDSKOLEN_SYSTEM TOKEN_DORTE_DPO; do
  echo "schemathesis: as ${token#TOKEN_}"
  "$venv/bin/schemathesis" run "http://127.0.0.1:$port/openapi.json" \
    -H "Authorization: Bearer ${!token}" \
    --checks all --exclude-checks positive_data_acceptance \
    --max-examples "$examples" --generation-deterministic \
    --request-timeout 10 --no-color >"$data/st-$token.txt" 2>&1 || status=1
  grep -E "^  [0-9]+ generated|failures?,|passed in" "$data/st-$token.txt" | tail -2
  if [ $status -ne 0 ]; then
    cat "$data/st-$token.txt"
    break
  fi
done
exit $status
