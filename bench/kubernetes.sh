#!/usr/bin/env bash
# Kubernetes discovery cost (bench/kubernetes_bench.py): one `strata scrape` worker discovering
# 10,000 pods from a fake API server with 10 jobs sharing one watch; memory, CPU, churn and
# update latency; with --monitors, the same pods selected by PodMonitors (kubernetes_monitors).
#
#   bench/kubernetes.sh [--pods N] [--jobs J | --monitors M [--namespaces K]] [--rate R] [--churn S]
#   bench/kubernetes.sh --monitors 1000     # 1,000 PodMonitors over the 10,000 pods
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${STRATA_BIN:-}" ]; then
  cargo build --release --quiet --bin strata
  STRATA_BIN=target/release/strata
fi
exec python3 bench/kubernetes_bench.py "$STRATA_BIN" "$@"
