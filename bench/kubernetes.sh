#!/usr/bin/env bash
# Kubernetes discovery cost (bench/kubernetes_bench.py): one `strata scrape` worker discovering
# 10,000 pods from a fake API server with 10 jobs sharing one watch; memory, CPU, churn and
# update latency.
#
#   bench/kubernetes.sh [--pods N] [--jobs J] [--rate R] [--churn S]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${STRATA_BIN:-}" ]; then
  cargo build --release --quiet --bin strata
  STRATA_BIN=target/release/strata
fi
exec python3 bench/kubernetes_bench.py "$STRATA_BIN" "$@"
