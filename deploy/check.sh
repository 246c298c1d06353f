#!/usr/bin/env bash
# Validates deploy/ as far as this machine can without a container engine or a cluster:
#   - every YAML file parses (python3 + PyYAML; skipped with a note when missing) and the
#     Kubernetes objects carry what the README promises (probes, limits, non-root, …);
#   - the generated ConfigMaps match policies/ and deploy/config/sluse.toml;
#   - the systemd unit passes `systemd-analyze verify` (when available);
#   - the Dockerfile keeps its guarantees (multi-stage, non-root, HEALTHCHECK, --locked build).
# SLUSE_BIN names a built `sluse` for the systemd check (default: the one on PATH, else skipped).
# Run by `cargo test` (tests/it/deploy.rs) and by hand: deploy/check.sh
set -euo pipefail
cd "$(dirname "$0")"
fail() { echo "deploy/check: $*" >&2; exit 1; }

if command -v python3 >/dev/null 2>&1 && python3 -c 'import yaml' 2>/dev/null; then
  python3 - <<'PY'
import pathlib, sys, yaml

def die(msg):
    print(f"deploy/check: {msg}", file=sys.stderr)
    sys.exit(1)

docs = {}
for path in sorted(pathlib.Path(".").rglob("*.yaml")):
    try:
        docs[str(path)] = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    except yaml.YAMLError as e:
        die(f"{path}: {e}")

compose = docs["compose.yaml"][0]
for service in ("postgres", "keygen", "migrate", "gateway"):
    if service not in compose.get("services", {}):
        die(f"compose.yaml: no service `{service}`")
gw = compose["services"]["gateway"]
if not any(str(v).endswith(":/etc/sluse/sluse.toml:ro") for v in gw.get("volumes", [])):
    die("compose.yaml: the gateway does not mount its config read-only")

kinds = {}
for name, items in docs.items():
    if not name.startswith("k8s/") or name.endswith("kustomization.yaml"):
        continue
    for d in items:
        for key in ("apiVersion", "kind", "metadata"):
            if key not in d:
                die(f"{name}: an object without `{key}`")
        kinds.setdefault(d["kind"], []).append(d)
for kind in ("Deployment", "Service", "ConfigMap", "HorizontalPodAutoscaler",
             "PodDisruptionBudget", "NetworkPolicy", "Namespace"):
    if kind not in kinds:
        die(f"k8s/: no {kind}")

kustomization = docs["k8s/kustomization.yaml"][0]
listed = set(kustomization["resources"])
present = {p.name for p in pathlib.Path("k8s").glob("*.yaml")} - {"kustomization.yaml"}
if listed != present:
    die(f"k8s/kustomization.yaml lists {sorted(listed)}, the directory holds {sorted(present)}")

spec = kinds["Deployment"][0]["spec"]["template"]["spec"]
if not spec["securityContext"].get("runAsNonRoot"):
    die("deployment: not runAsNonRoot")
for c in spec["containers"]:
    for probe in ("readinessProbe", "livenessProbe"):
        if probe not in c:
            die(f"deployment: container {c['name']} has no {probe}")
    if "limits" not in c.get("resources", {}):
        die(f"deployment: container {c['name']} has no resource limits")
    sc = c.get("securityContext", {})
    if sc.get("allowPrivilegeEscalation") is not False or not sc.get("readOnlyRootFilesystem"):
        die(f"deployment: container {c['name']} is not locked down")
secrets = {v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v}
if not {"sluse-keys", "sluse-tls"} <= secrets:
    die(f"deployment: key and TLS Secrets not referenced ({sorted(secrets)})")
print(f"deploy/check: {len(docs)} YAML files parse; Kubernetes objects: "
      + ", ".join(f"{k}×{len(v)}" for k, v in sorted(kinds.items())))
PY
  python3 k8s/gen-configmaps.py --check || fail "generated ConfigMaps are out of date"
else
  echo "deploy/check: note: python3 with PyYAML not available; YAML checks skipped"
fi

# Dockerfile guarantees (no engine here to build it; deploy/build-check.sh mirrors its steps).
grep -q '^FROM .* AS build$' Dockerfile || fail "Dockerfile: no build stage"
grep -q '^FROM gcr.io/distroless/' Dockerfile || fail "Dockerfile: runtime is not distroless"
grep -q '^USER 65532' Dockerfile || fail "Dockerfile: runtime does not run as a non-root user"
grep -q '^HEALTHCHECK' Dockerfile || fail "Dockerfile: no HEALTHCHECK"
grep -q 'cargo build --release --locked' Dockerfile || fail "Dockerfile: build is not --locked"

if command -v systemd-analyze >/dev/null 2>&1; then
  bin="${SLUSE_BIN:-$(command -v sluse || true)}"
  if [ -n "$bin" ]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    sed "s|/usr/local/bin/sluse|$bin|g" systemd/sluse.service > "$tmp/sluse.service"
    out=$(systemd-analyze verify "$tmp/sluse.service" 2>&1) || fail "systemd-analyze verify: $out"
    [ -z "$out" ] || fail "systemd-analyze verify: $out"
    echo "deploy/check: systemd unit verifies"
  else
    echo "deploy/check: note: no sluse binary (SLUSE_BIN); systemd check skipped"
  fi
else
  echo "deploy/check: note: systemd-analyze not available; unit check skipped"
fi
echo "deploy/check: ok"
