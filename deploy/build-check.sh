#!/usr/bin/env bash
# Runs the Dockerfile's steps on this machine (no container engine needed) and then what the image
# does at run time, so a broken image is found before a registry is involved:
#   build stage:   cargo fetch --locked; cargo build --release --locked --bin sluse; sluse --version
#   runtime stage: the image layout in a staging root (/usr/local/bin/sluse, /etc/sluse/policies,
#                  /var/lib/sluse/keys), `sluse policy check` on the staged bundle
#   run:           with deploy/config/sluse.toml (paths moved into the staging root), the dev
#                  secrets of dev-secrets.sh, and PostgreSQL at $SLUSE_TEST_POSTGRES_URL (when set):
#                  keygen, migrate, serve over TLS, and the HEALTHCHECK command itself.
# PROFILE=dev builds a debug binary instead (faster; the image builds release).
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${PROFILE:-release}"
target="${CARGO_TARGET_DIR:-target}"
stage=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  [ -n "${db_name:-}" ] && psql "$SLUSE_TEST_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS $db_name WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$stage"
}
trap cleanup EXIT
step() { echo "build-check: $*"; }

step "cargo fetch --locked"
cargo fetch --locked
if [ "$profile" = release ]; then
  step "cargo build --release --locked --bin sluse"
  cargo build --release --locked --bin sluse
  bin="$target/release/sluse"
else
  step "cargo build --locked --bin sluse (PROFILE=dev)"
  cargo build --locked --bin sluse
  bin="$target/debug/sluse"
fi
"$bin" --version

step "staging the runtime image layout in $stage"
install -D -m 0755 "$bin" "$stage/usr/local/bin/sluse"
mkdir -p "$stage/etc/sluse" "$stage/var/lib/sluse/keys"
cp -r policies "$stage/etc/sluse/policies"
"$stage/usr/local/bin/sluse" policy check "$stage/etc/sluse/policies"

if [ -z "${SLUSE_TEST_POSTGRES_URL:-}" ] || ! command -v psql >/dev/null 2>&1; then
  echo "build-check: note: SLUSE_TEST_POSTGRES_URL or psql missing; run steps skipped"
  echo "build-check: ok (build only)"
  exit 0
fi

step "run: dev secrets, keygen, migrate, serve, HEALTHCHECK"
cp deploy/dev-secrets.sh "$stage/"
(cd "$stage" && bash ./dev-secrets.sh >/dev/null)
mkdir -p "$stage/etc/sluse/jwks" "$stage/etc/sluse/tls"
cp "$stage/secrets/jwks.json" "$stage/etc/sluse/jwks/"
cp "$stage/secrets/tls/tls.crt" "$stage/secrets/tls/tls.key" "$stage/etc/sluse/tls/"
sed -e "s|/etc/sluse/|$stage/etc/sluse/|g" -e "s|/var/lib/sluse/|$stage/var/lib/sluse/|g" \
    -e 's|^listen = .*|listen = "127.0.0.1:0"|' deploy/config/sluse.toml > "$stage/etc/sluse/sluse.toml"
db_name="sluse_buildcheck_$$"
psql "$SLUSE_TEST_POSTGRES_URL" -qc "CREATE DATABASE $db_name" >/dev/null
export SLUSE_DATABASE__URL="${SLUSE_TEST_POSTGRES_URL%/*}/$db_name"
sluse="$stage/usr/local/bin/sluse"
config="$stage/etc/sluse/sluse.toml"
"$sluse" keygen --config "$config"
"$sluse" migrate --config "$config"
log="$stage/serve.log"
"$sluse" serve --config "$config" 2>"$log" &
server_pid=$!
addr=""
for _ in $(seq 1 100); do
  addr=$(grep -o '"addr":"[^"]*"' "$log" | head -n 1 | cut -d'"' -f4 || true)
  [ -n "$addr" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.1
done
[ -n "$addr" ] || { cat "$log"; echo "build-check: the gateway did not start"; exit 1; }
"$sluse" healthcheck --url "https://$addr/healthz"
"$sluse" healthcheck --url "https://$addr/readyz"
"$sluse" healthcheck --url "https://$addr/metrics" >/dev/null
echo "build-check: ok"
