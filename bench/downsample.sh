#!/usr/bin/env bash
# Downsampling benchmark: a month of data (default 21 targets = 1,008 series at 15 s, 30 days)
# imported into an S3 store on moto, compacted and downsampled by `strata compact --once`, then
# queried over the whole month at a 1h step (sum(rate(x[1h])), max_over_time(x[1h]) and a
# histogram_quantile over classic buckets) from raw data (max_source_resolution=0s) and from
# what `auto` picks: cold and warm latency, GETs and bytes fetched, samples/rows read, and
# the storage of raw, 5m and 1h blocks. Exits 1 if the answers differ.
#
#   bench/downsample.sh [--targets N] [--days D] [--runs R] [--data FILE]
#
# --data reuses a file gen_dataset.py wrote for the same --targets and --days (generating a
# month takes longer than the benchmark itself).
#
# Needs python3 and moto (pip install 'moto[server]'); builds Strata in release mode unless
# STRATA_BIN names the binary to use. The full size takes a while: the dataset is ~170 M samples.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
TARGETS=21 DAYS=30 RUNS=5 DATA=""
usage() { echo "usage: $0 [--targets N] [--days D] [--runs R] [--data FILE]" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --targets) TARGETS=${2:?}; shift 2 ;;
    --days) DAYS=${2:?}; shift 2 ;;
    --runs) RUNS=${2:?}; shift 2 ;;
    --data) DATA=$(realpath "${2:?}"); shift 2 ;;
    *) usage ;;
  esac
done
if [ -z "${STRATA_BIN:-}" ]; then
  cargo build --release --quiet --bin strata
fi
STRATA=$(realpath "${STRATA_BIN:-target/release/strata}")
bench_workdir strata-downsample-bench
trap 'exit 130' INT
trap 'exit 143' TERM
echo "strata: $STRATA; $(nproc) cores; $TARGETS targets x $DAYS days at 15 s"
if [ -n "$DATA" ]; then
  ln -s "$DATA" "$WORK/data.om"
else
  python3 bench/gen_dataset.py "$WORK/data.om" --targets "$TARGETS" --hours "$((DAYS * 24))"
fi
python3 bench/downsample_bench.py --work "$WORK" --days "$DAYS" --runs "$RUNS" --strata "$STRATA" &
PY=$!
PIDS+=("$PY")
rc=0
wait "$PY" || rc=$?
PIDS=()
# The driver's servers (moto, strata) are listed in its pid file.
[ -f "$WORK/pids" ] && xargs -r kill 2>/dev/null <"$WORK/pids" || true
exit "$rc"
