#!/usr/bin/env bash
# Remote-write benchmark: the same load (ingest/examples/remote_write_load.rs: SERIES series,
# ROUNDS samples each, 2000 samples per request, 8 in flight) sent to `strata serve` and to
# Prometheus 2.42's own receiver (--web.enable-remote-write-receiver), each receiver pinned to
# one core and the generator to the other. Prints samples/s, the ratio, and Strata's resident
# memory per active series.
#
#   bench/remote_write.sh [--series N] [--rounds R]      (defaults: 20000 series, 150 rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
SERIES=20000 ROUNDS=150
while [ $# -gt 0 ]; do
  case "$1" in
    --series) SERIES=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    *) echo "usage: $0 [--series N] [--rounds R]" >&2; exit 2 ;;
  esac
done
command -v prometheus >/dev/null || { echo "prometheus not found: apt-get install prometheus" >&2; exit 1; }
cargo build --release --quiet --bin strata
cargo build --release --quiet -p strata-ingest --example remote_write_load
STRATA=${STRATA_BIN:-target/release/strata}
LOAD=target/release/examples/remote_write_load
source bench/lib.sh
bench_workdir strata-rw-bench

SP=$(free_port)
taskset -c 0 "$STRATA" --store "$WORK/strata" serve --listen "127.0.0.1:$SP" --flush-interval 2s 2> "$WORK/strata.log" &
SPID=$!; PIDS+=("$SPID")
wait_ready "http://127.0.0.1:$SP"
BASE=$(rss_kb "$SPID")
S_OUT=$(taskset -c 1 "$LOAD" "http://127.0.0.1:$SP/api/v1/write" "$SERIES" "$ROUNDS")
PEAK=$(hwm_kb "$SPID")

printf 'global:\n  scrape_interval: 1m\n' > "$WORK/prometheus.yml"
PP=$(free_port)
taskset -c 0 prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prom" \
  --web.listen-address="127.0.0.1:$PP" --web.enable-remote-write-receiver 2> "$WORK/prom.log" &
PPID_=$!; PIDS+=("$PPID_")
wait_ready "http://127.0.0.1:$PP"
P_OUT=$(taskset -c 1 "$LOAD" "http://127.0.0.1:$PP/api/v1/write" "$SERIES" "$ROUNDS")

python3 - "$S_OUT" "$P_OUT" "$SERIES" "$BASE" "$PEAK" <<'PY'
import re, sys
s_out, p_out, series, base, peak = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rate = lambda out: float(re.search(r"([0-9.]+) samples/s", out).group(1))
s, p = rate(s_out), rate(p_out)
print(f"strata serve (1 core):        {s_out}")
print(f"prometheus receiver (1 core): {p_out}")
print(f"ratio strata/prometheus: {s / p:.2f}x samples/s per core")
print(f"strata resident memory: {base} KiB idle, {peak} KiB peak; "
      f"{(peak - base) * 1024 / series:.0f} B per active series (buffer holds up to one flush interval)")
PY
