#!/usr/bin/env bash
# Creates what compose.yaml mounts and does not commit: a self-signed TLS certificate for the
# gateway, a JWKS placeholder (replace it with your identity provider's key set), and deploy/.env
# with a random database password. Never overwrites an existing file.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p secrets/tls
if [ ! -f secrets/tls/tls.key ]; then
  openssl req -x509 -newkey ed25519 -nodes -days 365 -subj "/CN=sluse.local" \
    -addext "subjectAltName=DNS:sluse.local,DNS:localhost,IP:127.0.0.1" \
    -keyout secrets/tls/tls.key -out secrets/tls/tls.crt 2>/dev/null
  chmod 0644 secrets/tls/tls.crt secrets/tls/tls.key   # read by uid 65532 in the container
  echo "created secrets/tls/tls.{crt,key}"
fi
if [ ! -f secrets/jwks.json ]; then
  # A development issuer key (Ed25519); replace jwks.json with your identity provider's key set
  # (the gateway picks up a changed file by itself).
  openssl genpkey -algorithm ed25519 -out secrets/dev-issuer.key
  x=$(openssl pkey -in secrets/dev-issuer.key -pubout -outform DER | tail -c 32 | base64 | tr '+/' '-_' | tr -d '=\n')
  printf '{"keys":[{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","use":"sig","kid":"dev-1","x":"%s"}]}\n' "$x" > secrets/jwks.json
  chmod 0644 secrets/jwks.json
  echo "created secrets/jwks.json and secrets/dev-issuer.key (development issuer, kid dev-1)"
fi
if [ ! -f .env ]; then
  umask 077
  echo "POSTGRES_PASSWORD=$(openssl rand -hex 24)" > .env
  echo "created .env"
fi
