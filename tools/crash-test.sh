#!/usr/bin/env bash
# Crash consistency, full mode (issue #7): the crash test of tests/it/crash.rs with ROUNDS SIGKILLs
# (25 by default; `cargo test` runs 3) of `sluse serve` at random moments under concurrent permitted
# pull requests and notices. After every kill it checks, on the database the restart finds, that
# the chain verifies (`sluse audit verify`), that every disclosure_id a client received has its
# audit record and that every inbox item's disclosure_id is in audit_log. Prints kills survived,
# disclosure ids checked and records lost; exits non-zero if anything was lost.
#
#   tools/crash-test.sh                  # 25 kills
#   ROUNDS=50 tools/crash-test.sh
#   SEED=123 tools/crash-test.sh         # the kill moments of an earlier run (its log prints the seed)
#
# Environment: ROUNDS (25), SEED (random), CARGO_TARGET_DIR (as cargo).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
export SLUSE_TEST_CRASH_ROUNDS="${ROUNDS:-25}"
[[ -n "${SEED:-}" ]] && export SLUSE_TEST_CRASH_SEED="$SEED"
log="$(mktemp "${TMPDIR:-/var/tmp}/sluse-crash.XXXXXX.log")"

cd "$root"
set +e
nice cargo test --test it -- --exact \
  crash::sigkill_mid_batch_leaves_a_whole_chain_and_a_record_of_every_answered_disclosure \
  --nocapture 2>&1 | tee "$log" | grep -E '^(crash test|round [0-9]+:)|panicked|test result'
status=${PIPESTATUS[0]}
set -e
echo
if grep -q '^crash test summary' "$log"; then
  grep '^crash test summary' "$log" | sed 's/^crash test summary: //'
else
  echo "no summary: the test failed before the end (log: $log)"
fi
[[ $status == 0 ]] && echo "PASS ($log)" || echo "FAIL (exit $status; log: $log)"
exit "$status"
