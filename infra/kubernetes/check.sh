#!/usr/bin/env bash
# Validates the Kubernetes manifests offline (no cluster, no registry):
#   1. every YAML file parses (multi-document), and every object has apiVersion, kind,
#      metadata.name, and a namespace when it is namespaced;
#   2. kustomization.yaml lists every manifest file of this directory, and only those;
#   3. the scrape StatefulSet's STRATA_SHARDS equals its replicas, and the ConfigMap's
#      prometheus.yml parses;
#   4. checkov's Kubernetes policies (failures must be fixed or skipped inline, with a reason,
#      by a checkov.io/skipN annotation);
#   5. `kubectl kustomize` builds the directory, when kubectl is installed.
# `kubectl apply --dry-run=client` is not run: it asks an API server for its resource types,
# so it needs a cluster.
#
# Needs, in the Python that runs it (PYTHON, default target/infra-venv/bin/python when it
# exists, else python3): python3 -m pip install --quiet checkov==3.3.30 (PyYAML comes with it)
#
#   bash infra/kubernetes/check.sh
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."

if [ -z "${PYTHON:-}" ]; then
  if [ -x target/infra-venv/bin/python ]; then
    PYTHON=target/infra-venv/bin/python
  else
    PYTHON=python3
  fi
fi
log=$(mktemp)
count=$(mktemp)
trap 'rm -f "$log" "$count"' EXIT
failed=0

step_failed() {
  echo "check.sh: $1: FAILED"
  sed 's/^/  /' "$log"
  failed=1
}

# Steps 1 to 3, one line each (the details of a failure indented below it). The number of
# objects the files hold goes to $count for step 5.
"$PYTHON" - infra/kubernetes "$count" <<'PY' || failed=1
import pathlib, sys

try:
    import yaml
except ImportError:
    print("check.sh: yaml: FAILED (no PyYAML in this Python: pip install checkov==3.3.30 brings it)")
    pathlib.Path(sys.argv[2]).write_text("0")
    sys.exit(1)

root = pathlib.Path(sys.argv[1])
out = pathlib.Path(sys.argv[2])
failed = False
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding"}

# 1. Every file parses; every object is complete.
files = sorted(p for p in root.iterdir() if p.suffix in (".yaml", ".yml"))
docs = {}
errors = []
for path in files:
    try:
        docs[path.name] = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    except yaml.YAMLError as e:
        errors.append(f"{path}: {e}")
        continue
    if not docs[path.name]:
        errors.append(f"{path}: no document")
    for i, d in enumerate(docs[path.name]):
        if path.name == "kustomization.yaml":
            continue
        meta = (d.get("metadata") or {}) if isinstance(d, dict) else {}
        what = f"{path}: document {i + 1}"
        if not isinstance(d, dict) or not d.get("apiVersion") or not d.get("kind") or not meta.get("name"):
            errors.append(f"{what}: lacks apiVersion, kind or metadata.name")
        elif d["kind"] not in CLUSTER_SCOPED and not meta.get("namespace"):
            errors.append(f"{what} ({d['kind']} {meta['name']}): no metadata.namespace")
manifests = {n: ds for n, ds in docs.items() if n != "kustomization.yaml"}
count = sum(len(ds) for ds in manifests.values())
if errors:
    failed = True
    print("check.sh: yaml: FAILED")
    for e in errors:
        print(f"  {e}")
else:
    print(f"check.sh: yaml: ok ({len(files)} files, {count} objects)")

# 2. kustomization.yaml lists exactly the manifest files.
kustomization = (docs.get("kustomization.yaml") or [{}])[0]
listed = kustomization.get("resources") or []
names = {p.name for p in files} - {"kustomization.yaml"}
missing = sorted(names - set(listed))
unknown = sorted(set(listed) - names)
dups = sorted({r for r in listed if listed.count(r) > 1})
if "kustomization.yaml" not in docs or missing or unknown or dups:
    failed = True
    print("check.sh: kustomization: FAILED")
    if "kustomization.yaml" not in docs:
        print("  no kustomization.yaml")
    for name in missing:
        print(f"  {name} is not listed in resources")
    for name in unknown:
        print(f"  resources lists {name}, which is not a manifest of this directory")
    for name in dups:
        print(f"  resources lists {name} twice")
else:
    print(f"check.sh: kustomization: ok ({len(listed)} manifests listed)")

# 3. Invariants the API server cannot check.
def objects(kind):
    return [d for ds in manifests.values() for d in ds if isinstance(d, dict) and d.get("kind") == kind]

problems = []
sets = [s for s in objects("StatefulSet") if s["metadata"].get("name") == "strata-scrape"]
shards = None
if not sets:
    problems.append("no StatefulSet strata-scrape")
for s in sets:
    spec = s.get("spec") or {}
    replicas = spec.get("replicas", 1)
    for c in ((spec.get("template") or {}).get("spec") or {}).get("containers") or []:
        env = {e["name"]: e.get("value") for e in c.get("env") or []}
        shards = env.get("STRATA_SHARDS")
        if shards != str(replicas):
            problems.append(
                f"StatefulSet strata-scrape: STRATA_SHARDS is {shards!r} but replicas is {replicas}:"
                " they must be equal (scrape-statefulset.yaml)"
            )
for cm in objects("ConfigMap"):
    for key, text in (cm.get("data") or {}).items():
        if key.endswith((".yml", ".yaml")):
            try:
                config = yaml.safe_load(text)
                if not isinstance(config, dict) or not config.get("scrape_configs"):
                    problems.append(f"ConfigMap {cm['metadata']['name']}: {key} has no scrape_configs")
            except yaml.YAMLError as e:
                problems.append(f"ConfigMap {cm['metadata']['name']}: {key}: {e}")
if problems:
    failed = True
    print("check.sh: invariants: FAILED")
    for p in problems:
        print(f"  {p}")
else:
    print(f"check.sh: invariants: ok (STRATA_SHARDS = replicas = {shards}; prometheus.yml parses)")
out.write_text(str(count))
sys.exit(1 if failed else 0)
PY
objects=$(cat "$count")
if [ -z "$objects" ]; then
  echo "check.sh: yaml: FAILED (the checker stopped early: see above)"
  objects=0
  failed=1
fi

# 4. checkov. `python -m checkov.main` rather than the `checkov` script, so that it is the
# Python chosen above whatever PATH holds.
if ! "$PYTHON" -c 'import checkov' >/dev/null 2>&1; then
  echo "check.sh: $PYTHON lacks checkov: $PYTHON -m pip install --quiet checkov==3.3.30"
fi
if PYTHONWARNINGS=ignore "$PYTHON" -m checkov.main -d infra/kubernetes --framework kubernetes \
  --skip-download --compact --quiet >"$log" 2>&1; then
  echo "check.sh: checkov: ok ($(grep -m1 -o 'Passed checks: .*' "$log" || echo 'no checks ran'))"
  grep -q 'Passed checks: [1-9]' "$log" || step_failed "checkov (ran no check)"
else
  step_failed "checkov"
fi

# 5. kustomize, built into kubectl: offline.
if command -v kubectl >/dev/null; then
  if kubectl kustomize infra/kubernetes >"$log" 2>&1; then
    built=$(grep -c '^kind: ' "$log")
    if [ "$objects" -gt 0 ] && [ "$built" -ne "$objects" ]; then
      echo "check.sh: kubectl kustomize: FAILED (built $built objects, the files hold $objects)"
      failed=1
    else
      echo "check.sh: kubectl kustomize: ok ($built objects; $(kubectl version --client 2>/dev/null | grep -m1 -o 'Kustomize Version: .*' || echo 'kustomize'))"
    fi
  else
    step_failed "kubectl kustomize infra/kubernetes"
  fi
else
  echo "check.sh: kubectl kustomize: skipped (kubectl not installed)"
fi

exit "$failed"
