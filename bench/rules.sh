#!/usr/bin/env bash
# Rule evaluation benchmark: 1,000 recording rules (10 groups of 100) over 100,000 series
# (100 counters × 1,000 series, 15 s samples over the last 10 minutes), evaluated by
# `strata serve --config` pinned to one core. Prints the evaluation time of each group's
# last evaluation (from /api/v1/rules), their sum per round against the 1-minute interval,
# and the process's CPU seconds per round.
#
#   bench/rules.sh [--metrics M] [--series-per-metric S] [--rounds R]
#
# Needs python3 and taskset; builds Strata in release mode unless STRATA_BIN names the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
METRICS=100 PER=1000 ROUNDS=3
while [ $# -gt 0 ]; do
  case "$1" in
    --metrics) METRICS=${2:?}; shift 2 ;;
    --series-per-metric) PER=${2:?}; shift 2 ;;
    --rounds) ROUNDS=${2:?}; shift 2 ;;
    *) echo "usage: $0 [--metrics M] [--series-per-metric S] [--rounds R]" >&2; exit 2 ;;
  esac
done
if [ -z "${STRATA_BIN:-}" ]; then
  cargo build --release --quiet --bin strata
  STRATA_BIN=target/release/strata
fi
bench_workdir strata-rules-bench
INTERVAL=20
python3 - "$WORK" "$METRICS" "$PER" "$INTERVAL" <<'PY'
import sys, time
work, metrics, per, interval = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
now = int(time.time())
with open(f"{work}/data.prom", "w") as f:
    for m in range(metrics):
        f.write(f"# TYPE bench_metric_{m}_total counter\n")
        for s in range(per):
            labels = f'job="job{s % 10}",instance="host{s}:9100"'
            for i in range(40, -1, -1):
                t = now - 15 * i
                f.write(f"bench_metric_{m}_total{{{labels}}} {(600 - 15 * i) * (1 + s % 7)} {t * 1000}\n")
with open(f"{work}/rules.yml", "w") as f:
    f.write("groups:\n")
    for g in range(10):
        f.write(f"  - name: group{g}\n    rules:\n")
        for r in range(100):
            i = g * 100 + r
            m = i % metrics
            expr = [
                f"sum by (job) (rate(bench_metric_{m}_total[5m]))",
                f"max by (instance) (increase(bench_metric_{m}_total[5m]))",
                f"count by (job) (bench_metric_{m}_total > 100)",
                f"topk(5, rate(bench_metric_{m}_total[2m]))",
            ][i % 4]
            f.write(f"      - record: bench:rule{i}\n        expr: {expr}\n")
with open(f"{work}/prometheus.yml", "w") as f:
    f.write(f"global:\n  evaluation_interval: {interval}s\nrule_files: [rules.yml]\n")
PY
series=$((METRICS * PER))
echo "dataset: $series series, $((series * 41)) samples; 1000 rules in 10 groups, every ${INTERVAL}s"
"$STRATA_BIN" --store "$WORK/store" import "$WORK/data.prom" >/dev/null
PORT=$(free_port)
taskset -c 0 "$STRATA_BIN" --store "$WORK/store" serve --listen "127.0.0.1:$PORT" \
  --config "$WORK/prometheus.yml" --no-compact 2>"$WORK/serve.log" &
PID=$!
PIDS+=("$PID")
wait_ready "http://127.0.0.1:$PORT"
cpu() { awk '{print ($14 + $15) / 100}' "/proc/$1/stat"; }
# Rounds: wait for every group to have evaluated once more, then read the times.
last=""
for round in $(seq 0 "$ROUNDS"); do
  before=$(cpu "$PID")
  for _ in $(seq 1 600); do
    now=$(curl -fs "http://127.0.0.1:$PORT/api/v1/rules" | python3 -c '
import json, sys
g = json.load(sys.stdin)["data"]["groups"]
ok = g and all(x["lastEvaluation"] != "0001-01-01T00:00:00Z" for x in g)
print(min(x["lastEvaluation"] for x in g) if ok else "")')
    if [ -n "$now" ] && [ "$now" != "$last" ]; then break; fi
    sleep 0.5
  done
  last=$now
  after=$(cpu "$PID")
  [ "$round" -eq 0 ] && continue # the first round includes cold reads of the blocks
  curl -fs "http://127.0.0.1:$PORT/api/v1/rules" | python3 -c '
import json, sys
round_, cpu = sys.argv[1], float(sys.argv[2])
groups = json.load(sys.stdin)["data"]["groups"]
times = [g["evaluationTime"] for g in groups]
errors = sum(1 for g in groups for r in g["rules"] if r["health"] != "ok")
total = sum(times)
print(f"round {round_}: groups {len(groups)}, rules with errors {errors}, evaluation per group "
      f"{min(times):.2f}-{max(times):.2f} s, sum {total:.2f} s = {total / 60:.2f} of a 1-minute interval "
      f"on one core; process CPU over the round {cpu:.2f} s")
' "$round" "$(python3 -c "print($after - $before)")"
done
