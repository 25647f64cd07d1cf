#!/usr/bin/env bash
# Validates the local stack without running it (no container registry is needed): the compose
# file with `docker-compose config` (Debian's docker-compose 1.29 package, or the docker compose
# v2 plugin), and that every JSON and YAML file under infra/local parses. Installs nothing.
#
#   infra/local/check.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."

compose=()
if command -v docker-compose >/dev/null; then
  compose=(docker-compose)
elif docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
fi
if [ ${#compose[@]} -eq 0 ]; then
  echo "check.sh: docker-compose not installed, skipped the compose check"
else
  # `config` resolves ${VAR:-default} from the environment: check the defaults, not whatever
  # the caller has set.
  env -u MINIO_IMAGE -u MC_IMAGE -u NODE_EXPORTER_IMAGE -u GRAFANA_IMAGE \
    "${compose[@]}" -f infra/local/compose.yaml config -q
  echo "check.sh: infra/local/compose.yaml: valid (${compose[*]} config)"
fi

# Strata reads Prometheus' configuration format: promtool (Debian's `prometheus`) checks it too.
if command -v promtool >/dev/null; then
  promtool check config --syntax-only infra/local/prometheus.yml
fi

python3 - infra/local <<'PY'
import json, pathlib, sys

root = pathlib.Path(sys.argv[1])
try:
    import yaml
except ImportError:
    yaml = None
failed = 0
checked = 0
for path in sorted(root.rglob("*")):
    if path.suffix == ".json":
        load = json.loads
    elif path.suffix in (".yaml", ".yml"):
        if yaml is None:
            continue
        load = yaml.safe_load
    else:
        continue
    try:
        doc = load(path.read_text())
        if doc is None:
            raise ValueError("empty document")
        checked += 1
    except Exception as e:
        print(f"check.sh: {path}: {e}", file=sys.stderr)
        failed += 1
# The dashboards' datasource must be the provisioned one.
if yaml is not None:
    uids = {d.get("uid") for f in (root / "grafana/provisioning/datasources").glob("*.yaml")
            for d in (yaml.safe_load(f.read_text()) or {}).get("datasources", [])}
    for path in sorted(root.rglob("grafana/**/*.json")):
        try:
            dash = json.loads(path.read_text())
        except ValueError:
            continue
        for panel in dash.get("panels", []):
            for ds in [panel.get("datasource")] + [t.get("datasource") for t in panel.get("targets", [])]:
                if isinstance(ds, dict) and ds.get("uid") not in uids:
                    print(f"check.sh: {path}: panel {panel.get('title')!r}: datasource uid "
                          f"{ds.get('uid')!r} is not provisioned ({sorted(uids)})", file=sys.stderr)
                    failed += 1
if yaml is None:
    print("check.sh: PyYAML not installed: YAML files not parsed (JSON only)")
print(f"check.sh: {checked} JSON/YAML files parse, {failed} do not")
sys.exit(1 if failed else 0)
PY
