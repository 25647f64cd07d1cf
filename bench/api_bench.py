#!/usr/bin/env python3
"""HTTP API benchmark, driven by bench/api.sh (which generates and loads the data).

Warm: the same PromQL queries against Strata's and Prometheus' /api/v1/query[_range], median
latency of --runs runs after 2 warm-up runs, results compared (series count and values).
Cold (--cold): the dataset imported into an S3 store on moto; per query a fresh `strata serve`
(empty caches), one cold run, 5 warm runs, and the object-store GETs each needed.

Usage: api_bench.py --work DIR --hours H [--runs N] [--strata BIN] [--cold]
  DIR holds data.om, prom/ (promtool blocks) and strata/ (a local Strata store).
"""
import argparse
import atexit
import json
import math
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone

sys.dont_write_bytecode = True  # no bench/__pycache__ from the import below
from gen_dataset import START_MS  # noqa: E402

DATA_START = START_MS // 1000
# (name, expression, kind, how far back before the evaluation time the query reads data, s)
# kind: "instant", "range1h" (1 h at a 60 s step) or "range6h" (6 h at a 5 m step).
QUERIES = [
    ("sum_rate", 'sum by (job) (rate(http_requests_total[5m]))', "instant", 300),
    ("sum_rate", 'sum by (job) (rate(http_requests_total[5m]))', "range1h", 300),
    ("rate_all", 'rate(node_cpu_seconds_total[5m])', "instant", 300),
    ("rate_all", 'rate(node_cpu_seconds_total[5m])', "range1h", 300),
    ("hist_p90", 'histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))', "range1h", 300),
    ("hist_p90", 'histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))', "range6h", 300),
    ("max_gauge", 'max_over_time(temperature_celsius[10m])', "instant", 600),
    ("max_gauge", 'max_over_time(temperature_celsius[10m])', "range1h", 600),
    ("topk_cpu", 'topk(5, sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m])))', "instant", 300),
    ("subquery", 'max_over_time(sum by (job) (rate(http_requests_total[5m]))[30m:1m])', "instant", 2100),
    ("subquery", 'max_over_time(sum by (job) (rate(http_requests_total[5m]))[30m:1m])', "range6h", 2100),
    ("share_grp_left", 'rate(http_requests_total[5m]) / on(instance) group_left sum by (instance) (rate(http_requests_total[5m]))', "range1h", 300),
    ("avg_gauge", 'avg by (sensor) (temperature_celsius)', "range6h", 300),
    # The @ modifier, negative offsets and offset subqueries, compared as much as timed.
    ("at_end", 'sum by (job) (rate(http_requests_total[5m] @ end()))', "range1h", 300),
    ("offset_neg", 'sum by (job) (rate(http_requests_total[5m] offset -10m))', "range1h", 900),
    ("sub_offset", 'avg_over_time(temperature_celsius[30m:5m] offset 10m)', "range1h", 2400),
]
SERVERS = []  # live Popen objects, killed on exit
PIDFILE = None  # api.sh kills the pids listed here if we die without cleaning up


# ---- processes -----------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_pids():
    if PIDFILE:
        with open(PIDFILE, "w") as f:
            f.write("".join(f"{p.pid}\n" for p in SERVERS))


def start(argv, log, env=None):
    p = subprocess.Popen(argv, stdout=open(log, "ab"), stderr=subprocess.STDOUT, env=env)
    SERVERS.append(p)
    write_pids()
    return p


def stop(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if p in SERVERS:
        SERVERS.remove(p)
        write_pids()


def stop_all():
    for p in list(SERVERS):
        stop(p)


def wait_ready(p, url, log, what, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if p.poll() is not None:
            tail = open(log, errors="replace").read()[-2000:]
            sys.exit(f"error: {what} exited with status {p.returncode} before it was ready; log tail:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    sys.exit(f"error: {what} not ready at {url} after {timeout}s (log: {log})")


# ---- HTTP API -------------------------------------------------------------------------------

def query_params(expr, kind, t_end, data_start):
    if kind == "instant":
        return "/api/v1/query", {"query": expr, "time": t_end}
    span, step = (3600, 60) if kind == "range1h" else (6 * 3600, 300)
    start = max(t_end - span, data_start + 600)
    return "/api/v1/query_range", {"query": expr, "start": start, "end": t_end, "step": step}


def run_query(base, path, params):
    """Returns (milliseconds, body); the time covers the request and reading the response."""
    url = base + path + "?" + urllib.parse.urlencode(params)
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=300) as r:
        body = r.read()
    return (time.perf_counter() - t0) * 1000, body


def parse_result(body):
    """{labels: {timestamp: value}} for vector, matrix and scalar results."""
    d = json.loads(body)
    if d.get("status") != "success":
        raise RuntimeError(d.get("error", "query failed"))
    rt, res = d["data"]["resultType"], d["data"]["result"]
    if rt == "scalar":
        return {(): {float(res[0]): res[1]}}
    out = {}
    for s in res:
        key = tuple(sorted(s["metric"].items()))
        pts = s["values"] if rt == "matrix" else [s["value"]]
        out[key] = {float(t): v for t, v in pts}
    return out


def same_value(a, b):
    x, y = float(a), float(b)
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-12)


def compare(a, b):
    """'' when both results match, else a short description of the difference."""
    if len(a) != len(b):
        return f"series {len(a)}!={len(b)}"
    if a.keys() != b.keys():
        return "labels differ"
    bad = sum(1 for k in a if a[k].keys() != b[k].keys()
              or not all(same_value(v, b[k][t]) for t, v in a[k].items()))
    return f"{bad} series' values differ" if bad else ""


def http_error(e):
    if isinstance(e, urllib.error.HTTPError):
        try:
            return f"HTTP {e.code}: {json.loads(e.read()).get('error', '')}"[:120]
        except ValueError:
            return f"HTTP {e.code}"
    return str(e)[:120]


def fmt(x, spec=".1f"):
    return "n/a" if x is None else format(x, spec)


def median_or_none(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


# ---- warm: Strata vs Prometheus on a local disk ----------------------------------------------

def start_prometheus(work):
    cfg = os.path.join(work, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 15s\n")  # no scrape jobs: only the backfilled blocks
    port = free_port()
    log = os.path.join(work, "prometheus.log")
    # max-block-duration=2h: Prometheus must not compact the backfilled 2 h blocks while we
    # measure (Strata serves the 2 h blocks of its import as they are, too).
    p = start(["prometheus", f"--storage.tsdb.path={work}/prom", f"--config.file={cfg}",
               f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=100y",
               "--storage.tsdb.max-block-duration=2h", "--log.level=warn"], log)
    wait_ready(p, f"http://127.0.0.1:{port}/-/ready", log, "prometheus")
    return f"http://127.0.0.1:{port}"


def start_strata(strata, store, work, env=None, tag="strata", extra=(), cmd="serve"):
    """`strata serve` (or `cmd`, e.g. the stateless `query-server`) on a free port."""
    port = free_port()
    log = os.path.join(work, f"{tag}.log")
    p = start([strata, "--store", store, cmd, "--listen", f"127.0.0.1:{port}", *extra], log, env)
    wait_ready(p, f"http://127.0.0.1:{port}/-/ready", log, f"strata {cmd} ({' '.join(p.args)})")
    return p, f"http://127.0.0.1:{port}"


def warm(args, t_end):
    targets = {"prom": start_prometheus(args.work)}
    if args.strata:
        targets["strata"] = start_strata(args.strata, os.path.join(args.work, "strata"), args.work)[1]
    print(f"\nwarm: median of {args.runs} runs after 2 warm-up runs, local disk, ms")
    print(f"{'query':15s} {'kind':8s} {'strata':>9s} {'prom':>9s} {'ratio':>7s} {'series':>9s}  check")
    ratios = {"instant": [], "range": []}
    for name, expr, kind, _ in QUERIES:
        path, params = query_params(expr, kind, t_end, DATA_START)
        results, errors = {}, {}
        for who, base in targets.items():
            try:
                for _ in range(2):
                    run_query(base, path, params)
                results[who] = parse_result(run_query(base, path, params)[1])
            except (OSError, RuntimeError, ValueError) as e:
                errors[who] = http_error(e)
        samples = {who: [] for who in targets if who not in errors}
        for _ in range(args.runs):  # interleaved, so drift affects both alike
            for who in samples:
                samples[who].append(run_query(targets[who], path, params)[0])
        times = {who: statistics.median(ts) for who, ts in samples.items()}
        s, p = times.get("strata"), times.get("prom")
        ratio = s / p if s is not None and p else None
        if ratio is not None:
            ratios["instant" if kind == "instant" else "range"].append(ratio)
        counts = "/".join(str(len(results[w])) if w in results else "-" for w in ("strata", "prom") if w in targets)
        if errors:
            check = "ERROR " + "; ".join(f"{w}: {e}" for w, e in errors.items())
        elif "strata" in results:
            check = compare(results["strata"], results["prom"]) or "ok"
            check = check if check == "ok" else "MISMATCH " + check
        else:
            check = "-"
        print(f"{name:15s} {kind:8s} {fmt(s):>9s} {fmt(p):>9s} {fmt(ratio, '.2f'):>7s} {counts:>9s}  {check}",
              flush=True)
    if args.strata:
        print()
        for group, rs in ratios.items():
            m = median_or_none(rs)
            print(f"warm {group} queries: median ratio strata/prometheus = {fmt(m, '.2f')}x ({len(rs)} queries)")


# ---- cold: Strata on S3 (moto), fresh server per query ----------------------------------------

GET_RE = re.compile(r'^strata_object_store_requests_total\{([^}]*)\}\s+(\S+)', re.M)


def get_count(base):
    with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
        text = r.read().decode()
    vals = [float(v) for labels, v in GET_RE.findall(text) if 'operation="get"' in labels]
    return sum(vals) if vals else None


def parse_ts_ms(s):
    t = datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    return int(round(t.timestamp() * 1000))


def list_blocks(strata, store, env):
    """[(min_ms, max_ms)] from `strata inspect` (columns BLOCK, MIN TIME, MAX TIME, ...)."""
    out = subprocess.run([strata, "--store", store, "inspect"], env=env, capture_output=True,
                         text=True, check=True).stdout
    ts = r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z)"
    return [(parse_ts_ms(a), parse_ts_ms(b)) for a, b in re.findall(rf"^\S+\s+{ts}\s+{ts}\s", out, re.M)]


def start_moto(work):
    port = free_port()
    log = os.path.join(work, "moto.log")
    launcher = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "infra", "local", "moto_atomic.py")
    p = start([sys.executable, launcher, "-H", "127.0.0.1", "-p", str(port)], log)
    wait_ready(p, f"http://127.0.0.1:{port}/", log, "moto_server", timeout=60)
    url = f"http://127.0.0.1:{port}"
    urllib.request.urlopen(urllib.request.Request(url + "/strata-bench", method="PUT"), timeout=10).read()
    return url


MOTO_STORE = "s3://strata-bench/strata"


def import_on_moto(strata, work):
    """Starts moto, imports WORK/data.om into MOTO_STORE; returns the environment that reaches it."""
    endpoint = start_moto(work)
    env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, AWS_ALLOW_HTTP="true", AWS_ACCESS_KEY_ID="bench",
               AWS_SECRET_ACCESS_KEY="bench", AWS_REGION="us-east-1")
    r = subprocess.run([strata, "--store", MOTO_STORE, "import", "--quiet",
                        os.path.join(work, "data.om")], env=env, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"error: import into {MOTO_STORE} on moto failed:\n{r.stderr[-2000:]}")
    return env


def cold(args, t_end):
    store = MOTO_STORE
    t0 = time.perf_counter()
    env = import_on_moto(args.strata, args.work)
    try:
        blocks = list_blocks(args.strata, store, env)
    except subprocess.CalledProcessError as e:
        print(f"warning: strata inspect failed, GETs per file unknown: {e.stderr[-300:]}")
        blocks = []
    print(f"\ncold: S3 store on moto ({len(blocks)} blocks, import {time.perf_counter() - t0:.1f}s); "
          f"fresh `strata serve` per query; warm = median of {args.warm_runs} runs after the cold one")
    print(f"{'query':15s} {'kind':8s} {'cold ms':>9s} {'warm ms':>9s} {'c/w':>6s} {'GETs':>6s} "
          f"{'files':>6s} {'GET/file':>9s} {'warm GETs':>9s}")
    cw, per_file, counter_seen = [], [], False
    for name, expr, kind, window in QUERIES:
        path, params = query_params(expr, kind, t_end, DATA_START)
        lo = (params.get("start", t_end) - window) * 1000
        files = 2 * sum(1 for bmin, bmax in blocks if bmin <= t_end * 1000 and bmax >= lo)
        p, base = start_strata(args.strata, store, args.work, env, tag="strata-s3")
        try:
            g0 = get_count(base)
            c_ms = run_query(base, path, params)[0]
            g1 = get_count(base)
            w_ms = statistics.median(run_query(base, path, params)[0] for _ in range(args.warm_runs))
            g2 = get_count(base)
        except (OSError, RuntimeError, ValueError) as e:
            print(f"{name:15s} {kind:8s} ERROR {http_error(e)}")
            continue
        finally:
            stop(p)
        gets = g1 - g0 if g0 is not None and g1 is not None else None
        warm_gets = g2 - g1 if g1 is not None and g2 is not None else None
        counter_seen |= gets is not None
        gpf = gets / files if gets is not None and files else None
        cw.append(c_ms / w_ms)
        if gpf is not None:
            per_file.append(gpf)
        print(f"{name:15s} {kind:8s} {c_ms:9.1f} {w_ms:9.1f} {c_ms / w_ms:6.1f} {fmt(gets, '.0f'):>6s} "
              f"{files:6d} {fmt(gpf, '.2f'):>9s} {fmt(warm_gets, '.0f'):>9s}", flush=True)
    if not counter_seen:
        print("warning: no strata_object_store_requests_total{operation=\"get\"} in /metrics")
    print(f"\ncold/warm median = {fmt(median_or_none(cw), '.1f')}x, "
          f"max GETs per touched file = {fmt(max(per_file) if per_file else None, '.2f')}")


def main():
    global PIDFILE
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--hours", type=float, required=True)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warm-runs", type=int, default=5)
    ap.add_argument("--strata", help="strata binary; without it only Prometheus is measured")
    ap.add_argument("--cold", action="store_true")
    args = ap.parse_args()
    PIDFILE = os.path.join(args.work, "servers.pid")
    atexit.register(stop_all)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # Evaluate at the last whole minute at least 2 minutes before the data ends.
    t_end = int(DATA_START + args.hours * 3600 - 120) // 60 * 60
    print(f"evaluation time {datetime.fromtimestamp(t_end, timezone.utc):%Y-%m-%d %H:%M:%S}Z "
          f"(data from {datetime.fromtimestamp(DATA_START, timezone.utc):%H:%M}Z, {args.hours:g} h)")
    warm(args, t_end)
    stop_all()
    if args.cold:
        if not args.strata:
            sys.exit("error: --cold needs --strata")
        cold(args, t_end)


if __name__ == "__main__":
    main()
