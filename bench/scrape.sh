#!/usr/bin/env bash
# Scrape benchmark: parser and ingest speed on one core (ingest/examples/scrape_bench.rs), then
# resident memory per active series of a real `strata scrape` worker against Prometheus 2.42
# scraping the same targets: TARGETS node_exporter-shaped targets of SERIES/TARGETS series each,
# served by bench/exporter.py, scraped every 5 s for WAIT seconds. Memory per series is the
# resident set over the same process idle (empty configuration), divided by the active series.
#
#   bench/scrape.sh [--series N] [--targets T] [--wait S]   (defaults: 100000, 10, 40)
set -euo pipefail
cd "$(dirname "$0")/.."
SERIES=100000 TARGETS=10 WAIT=40
while [ $# -gt 0 ]; do
  case "$1" in
    --series) SERIES=$2; shift 2 ;;
    --targets) TARGETS=$2; shift 2 ;;
    --wait) WAIT=$2; shift 2 ;;
    *) echo "usage: $0 [--series N] [--targets T] [--wait S]" >&2; exit 2 ;;
  esac
done
command -v prometheus >/dev/null || { echo "prometheus not found: apt-get install prometheus" >&2; exit 1; }
cargo build --release --quiet --bin strata
cargo build --release --quiet -p strata-ingest --example scrape_bench
STRATA=${STRATA_BIN:-target/release/strata}
echo "== parser and ingest path, one core =="
taskset -c 0 target/release/examples/scrape_bench "$SERIES" "$TARGETS"

source bench/lib.sh
bench_workdir strata-scrape-bench

EP=$(free_port)
taskset -c 1 python3 bench/exporter.py "$EP" "$TARGETS" $((SERIES / TARGETS)) &
PIDS+=($!)
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$EP/metrics?t=0" >/dev/null 2>&1 && break; sleep 0.1; done

printf 'global:\n  scrape_interval: 5s\nscrape_configs: []\n' > "$WORK/idle.yml"
{
  printf 'global:\n  scrape_interval: 5s\nscrape_configs:\n  - job_name: node\n    static_configs:\n'
  for i in $(seq 0 $((TARGETS - 1))); do
    printf "      - targets: ['127.0.0.1:%s']\n        labels: {__param_t: '%s', host: 'host-%s'}\n" "$EP" "$i" "$i"
  done
} > "$WORK/load.yml"

# rss SYSTEM CONFIG: resident KiB after WAIT seconds of scraping.
measure() {
  local system=$1 config=$2 wait=$3 port pid
  port=$(free_port)
  if [ "$system" = strata ]; then
    taskset -c 0 "$STRATA" --store "$WORK/strata-$config" scrape --config "$WORK/$config.yml" \
      --listen "127.0.0.1:$port" 2> "$WORK/strata-$config.log" &
  else
    taskset -c 0 prometheus --config.file="$WORK/$config.yml" --storage.tsdb.path="$WORK/prom-$config" \
      --web.listen-address="127.0.0.1:$port" 2> "$WORK/prom-$config.log" &
  fi
  pid=$!; PIDS+=("$pid")
  wait_ready "http://127.0.0.1:$port"
  sleep "$wait"
  rss_kb "$pid"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

echo "== resident memory per active series ($SERIES series, $TARGETS targets, ${WAIT}s of 5 s scrapes) =="
S_IDLE=$(measure strata idle 5)
S_LOAD=$(measure strata load "$WAIT")
P_IDLE=$(measure prometheus idle 5)
P_LOAD=$(measure prometheus load "$WAIT")
python3 - "$SERIES" "$S_IDLE" "$S_LOAD" "$P_IDLE" "$P_LOAD" <<'PY'
import sys
series, s_idle, s_load, p_idle, p_load = map(int, sys.argv[1:])
s = (s_load - s_idle) * 1024 / series
p = (p_load - p_idle) * 1024 / series
print(f"strata scrape: {s_idle} KiB idle, {s_load} KiB scraping = {s:.0f} B per active series")
print(f"prometheus:    {p_idle} KiB idle, {p_load} KiB scraping = {p:.0f} B per active series")
print(f"ratio strata/prometheus: {s / p:.2f}x memory per series")
PY
