#!/usr/bin/env bash
# PromQL engine benchmark: rate over many series, sum by with a large fan-in,
# histogram_quantile and a subquery, instant and range, over blocks in a local store.
#   bench/promql.sh [SERIES] [HOURS]     (defaults: 10000 series, 2 hours)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --quiet -p strata-query --example promql_bench -- "${1:-10000}" "${2:-2}"
