#!/usr/bin/env bash
# Lambda benchmark (bench/lambda_bench.py): the Lambda bootstrap under a fake Runtime API
# beside `strata serve` on the same moto S3 store — INIT time per role, warm query latency
# against strata serve, remote-write latency and object-store requests per million samples
# (priced against Amazon Managed Service for Prometheus), and one compaction event.
#
#   bench/lambda.sh [--targets N] [--hours H] [--runs R] [--requests W] [--samples S]
#
# Uses target/lambda/bootstrap when infra/lambda/build.sh has built it (BOOTSTRAP overrides),
# else the release `strata` binary (the same program); needs python3 and moto[server].
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${STRATA_BIN:-}" ]; then
  cargo build --release --quiet --bin strata
  STRATA_BIN=target/release/strata
fi
BOOTSTRAP=${BOOTSTRAP:-target/lambda/bootstrap}
[ -x "$BOOTSTRAP" ] || BOOTSTRAP=$STRATA_BIN
python3 -c 'import moto.moto_server.werkzeug_app' 2>/dev/null ||
  python3 -m pip install --quiet 'moto[server]>=5,<6'
exec python3 bench/lambda_bench.py "$STRATA_BIN" "$BOOTSTRAP" "$@"
