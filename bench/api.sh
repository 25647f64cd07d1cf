#!/usr/bin/env bash
# HTTP API benchmark: the same OpenMetrics file imported into Strata and backfilled into
# Prometheus with promtool (2 h blocks each); a fixed list of PromQL queries, instant and range,
# timed against both servers' /api/v1/query[_range] (median of --runs runs, results compared).
# With moto_server (pip install 'moto[server]'), also a cold-start case: Strata on an S3 store,
# a fresh server per query, cold vs warm latency and object-store GETs per query.
#
#   bench/api.sh [--targets N] [--hours H] [--runs N] [--cold|--no-cold] [--prometheus-only]
#                (defaults: 40 targets, 6 hours, 10 runs; cold case if moto_server is installed)
#
# Needs prometheus and promtool (Debian package `prometheus`) and python3; builds Strata in
# release mode (STRATA_BIN overrides the binary). --prometheus-only skips Strata entirely.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGETS=40 HOURS=6 RUNS=10 COLD=auto PROM_ONLY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --targets) TARGETS=$2; shift 2 ;;
    --hours) HOURS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --cold) COLD=1; shift ;;
    --no-cold) COLD=0; shift ;;
    --prometheus-only) PROM_ONLY=1; COLD=0; shift ;;
    *) echo "usage: $0 [--targets N] [--hours H] [--runs N] [--cold|--no-cold] [--prometheus-only]" >&2; exit 2 ;;
  esac
done
for tool in prometheus promtool; do
  command -v $tool >/dev/null || { echo "$tool not found: apt-get install prometheus" >&2; exit 1; }
done
if [ "$COLD" = auto ]; then
  if python3 -c "import moto.moto_server.werkzeug_app" 2>/dev/null; then COLD=1; else COLD=0; fi
elif [ "$COLD" = 1 ] && ! python3 -c "import moto.moto_server.werkzeug_app" 2>/dev/null; then
  echo "moto not found: pip install 'moto[server]'" >&2; exit 1
fi
STRATA_ARGS=()
if [ "$PROM_ONLY" = 0 ]; then
  cargo build --release --quiet --bin strata
  STRATA=${STRATA_BIN:-target/release/strata}
  if [ ! -x "$STRATA" ]; then
    echo "strata binary not found at $STRATA: run 'cargo build --release --bin strata'," \
      "set STRATA_BIN, or pass --prometheus-only" >&2
    exit 1
  fi
  STRATA_ARGS=(--strata "$(realpath "$STRATA")")
  [ "$COLD" = 1 ] && STRATA_ARGS+=(--cold)
fi
WORK=$(mktemp -d /tmp/strata-api-bench.XXXXXX)
PY=""
cleanup() { # api_bench.py stops its servers on SIGTERM; the pid file catches any it could not
  if [ -n "$PY" ]; then kill "$PY" 2>/dev/null || true; wait "$PY" 2>/dev/null || true; fi
  if [ -s "$WORK/servers.pid" ]; then xargs -r kill 2>/dev/null < "$WORK/servers.pid" || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

python3 bench/gen_dataset.py "$WORK/data.om" --targets "$TARGETS" --hours "$HOURS"
promtool tsdb create-blocks-from openmetrics --max-block-duration=2h "$WORK/data.om" "$WORK/prom" > /dev/null
if [ "$PROM_ONLY" = 0 ]; then
  "$STRATA" --store "$WORK/strata" import --quiet --block-duration 2h "$WORK/data.om" > /dev/null
fi
# In the background so that a signal reaches the trap at once, not after the benchmark.
python3 bench/api_bench.py --work "$WORK" --hours "$HOURS" --runs "$RUNS" "${STRATA_ARGS[@]}" &
PY=$!
wait "$PY"
PY=""
