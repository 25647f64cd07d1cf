#!/usr/bin/env bash
# Alert delivery latency: one alerting rule with `for: 1m`, evaluated every 15 s by
# `strata serve --config`, sent to the real Alertmanager (Debian prometheus-alertmanager).
# The rule is true for 75 s. Prints when the alert became pending (activeAt), when it was
# due (activeAt + 1m) and when the condition ended, the evaluations that fired and resolved
# it, and how long after each Alertmanager had it (polled every 50 ms on /api/v2/alerts).
# Takes about 100 s.
#
#   bench/alert_latency.sh
#
# Needs python3, curl and prometheus-alertmanager; builds Strata in release mode unless
# STRATA_BIN names the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
if [ -z "${STRATA_BIN:-}" ]; then
  cargo build --release --quiet --bin strata
  STRATA_BIN=target/release/strata
fi
bench_workdir strata-alert-latency
AM_PORT=$(free_port) PORT=$(free_port)
cat >"$WORK/am.yml" <<YML
route: {receiver: none}
receivers: [{name: none}]
YML
prometheus-alertmanager --config.file="$WORK/am.yml" --storage.path="$WORK/am" \
  --web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address= >/dev/null 2>&1 &
PIDS+=($!)
INTERVAL=15 HOLD=60 TRUE_FOR=75
FROM=$(( $(date +%s) + 5 ))
TO=$((FROM + TRUE_FOR))
cat >"$WORK/rules.yml" <<YML
groups:
  - name: latency
    rules:
      - alert: Latency
        expr: vector(1) and on() (vector(time()) >= $FROM) and on() (vector(time()) < $TO)
        for: ${HOLD}s
YML
cat >"$WORK/prometheus.yml" <<YML
global: {evaluation_interval: ${INTERVAL}s}
rule_files: [rules.yml]
alerting:
  alertmanagers: [{static_configs: [{targets: ['127.0.0.1:$AM_PORT']}]}]
YML
"$STRATA_BIN" --store "$WORK/store" serve --listen "127.0.0.1:$PORT" --config "$WORK/prometheus.yml" \
  >"$WORK/strata.log" 2>&1 &
PIDS+=($!)
wait_ready "http://127.0.0.1:$PORT"
wait_ready "http://127.0.0.1:$AM_PORT"
python3 - "$PORT" "$AM_PORT" "$FROM" "$TO" "$INTERVAL" "$HOLD" <<'PY'
import json, math, sys, time, urllib.request
from datetime import datetime
port, am, start, end, interval, hold = sys.argv[1:3] + [int(x) for x in sys.argv[3:]]
def get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)
def ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
active_at = seen = gone = None
deadline = end + hold + 60
while time.time() < deadline and gone is None:
    now = time.time()
    if active_at is None:
        for a in get(f"http://127.0.0.1:{port}/api/v1/alerts")["data"]["alerts"]:
            active_at = ts(a["activeAt"])
    names = [a["labels"].get("alertname") for a in get(f"http://127.0.0.1:{am}/api/v2/alerts")]
    if seen is None and "Latency" in names:
        seen = now
    elif seen is not None and "Latency" not in names:
        gone = now
    time.sleep(0.05)
if active_at is None or seen is None or gone is None:
    sys.exit(f"incomplete: activeAt={active_at} seen={seen} gone={gone}")
due = active_at + hold
# Evaluations fall on activeAt + k·interval: the first at or after each moment acts on it.
fired = active_at + math.ceil(hold / interval) * interval
resolved = active_at + math.ceil((end - active_at) / interval) * interval
print(f"evaluation interval {interval}s, for {hold}s")
print(f"pending at {active_at:.3f}; due at {due:.3f}; fired by the evaluation at {fired:.3f}")
print(f"  Alertmanager had it {seen - fired:.3f} s after that evaluation ({seen - due:.3f} s after it was due)")
print(f"condition ended at {end}; resolved by the evaluation at {resolved:.3f}")
print(f"  Alertmanager had the resolution {gone - resolved:.3f} s after that evaluation ({gone - end:.3f} s after the condition ended)")
PY
