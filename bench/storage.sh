#!/usr/bin/env bash
# Storage benchmark: the same OpenMetrics file imported into Strata and backfilled into
# Prometheus' TSDB with promtool; prints bytes/sample of both, their ratio, and import speed.
#
#   bench/storage.sh [--targets N] [--hours H]      (defaults: 20 targets, 12 hours)
#
# Needs promtool (Debian package `prometheus`) and python3; builds Strata in release mode.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGETS=20 HOURS=12
while [ $# -gt 0 ]; do
  case "$1" in
    --targets) TARGETS=$2; shift 2 ;;
    --hours) HOURS=$2; shift 2 ;;
    *) echo "usage: $0 [--targets N] [--hours H]" >&2; exit 2 ;;
  esac
done
command -v promtool >/dev/null || { echo "promtool not found: apt-get install prometheus" >&2; exit 1; }
cargo build --release --quiet --bin strata
STRATA=${STRATA_BIN:-target/release/strata}
WORK=$(mktemp -d /tmp/strata-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
ONE_CORE=""
command -v taskset >/dev/null && ONE_CORE="taskset -c 0"

python3 bench/gen_dataset.py "$WORK/data.om" --targets "$TARGETS" --hours "$HOURS"
SAMPLES=$(grep -vc '^#' "$WORK/data.om")

now() { date +%s.%N; }
run_case() { # $1 = block duration
  local dur=$1
  rm -rf "$WORK/strata" "$WORK/prom"
  local t0 t1 t2
  t0=$(now)
  $ONE_CORE "$STRATA" --store "$WORK/strata" import --quiet --block-duration "$dur" "$WORK/data.om" > "$WORK/strata.out"
  t1=$(now)
  $ONE_CORE promtool tsdb create-blocks-from openmetrics --max-block-duration="$dur" "$WORK/data.om" "$WORK/prom" > /dev/null
  t2=$(now)
  local sb pb
  sb=$(du -sb "$WORK/strata/blocks" | cut -f1)
  pb=$(du -sb "$WORK/prom" | cut -f1)
  python3 - "$dur" "$SAMPLES" "$sb" "$pb" "$t0" "$t1" "$t2" <<'PY'
import sys
dur, n, sb, pb, t0, t1, t2 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), *map(float, sys.argv[5:])
s, p = sb / n, pb / n
print(f"blocks of {dur}:")
print(f"  {'':22s}{'bytes':>12s}{'B/sample':>10s}{'import s':>10s}{'samples/s':>14s}")
print(f"  {'strata':22s}{sb:12d}{s:10.3f}{t1-t0:10.2f}{n/(t1-t0):14.0f}")
print(f"  {'prometheus (promtool)':22s}{pb:12d}{p:10.3f}{t2-t1:10.2f}{n/(t2-t1):14.0f}")
print(f"  ratio strata/prometheus: size {s/p:.3f}x, import speed {(t2-t1)/(t1-t0):.1f}x")
PY
}
echo "dataset: $SAMPLES samples ($TARGETS targets, $HOURS h at 15 s, ms jitter); one core each"
run_case 2h
run_case 24h
