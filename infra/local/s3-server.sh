#!/usr/bin/env bash
# Runs a local S3-compatible server for Strata (moto, from PyPI) and prints the environment to
# point Strata at it. MinIO is not in this project's package registries. moto is run by
# moto_atomic.py beside this script, which makes its conditional writes atomic as Strata's
# manifest needs (moto alone checks If-None-Match and writes without a lock; docs/format.md).
#
#   infra/local/s3-server.sh [PORT]      then, in another shell, paste the printed exports and
#   strata --store s3://strata/demo import FILE
set -euo pipefail
PORT=${1:-9000}
BUCKET=${BUCKET:-strata}
python3 -c 'import moto.moto_server.werkzeug_app' 2>/dev/null ||
  python3 -m pip install --quiet 'moto[server]>=5,<6'
python3 "$(dirname "$0")/moto_atomic.py" -H 127.0.0.1 -p "$PORT" >/dev/null 2>&1 &
PID=$!
trap 'kill $PID' EXIT INT TERM
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.1
done
curl -sf -X PUT "http://127.0.0.1:$PORT/$BUCKET" >/dev/null
cat <<ENV
export AWS_ENDPOINT_URL=http://127.0.0.1:$PORT AWS_ALLOW_HTTP=true AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=strata AWS_SECRET_ACCESS_KEY=strata
export STRATA_STORE=s3://$BUCKET/demo
ENV
echo "S3 server on 127.0.0.1:$PORT (in memory; Ctrl-C stops it)" >&2
wait $PID
