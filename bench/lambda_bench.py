#!/usr/bin/env python3
"""Lambda benchmark: Strata's bootstrap under a fake Lambda Runtime API, beside `strata serve`,
both on the same moto S3 store (what bench/lambda.sh runs).

Measures, on the same data:
- init: the bootstrap's INIT phase (spawn to its first `GET /runtime/invocation/next`, and the
  `init_ms` it logs), per role;
- warm queries: median latency of instant and range queries through the fake Runtime API
  (HTTP API 2.0 events) against the same queries over HTTP to `strata serve`, both with the
  Lambda default `--manifest-refresh 10s` (so neither LISTs the manifest per query);
- remote write: REQUESTS events of SAMPLES samples each (protobuf + snappy, base64 in the
  event), committed inside each request: latency and the object-store requests the function
  made (its own /metrics), scaled to a million samples, priced with AWS' list prices;
- compaction: one scheduled event after the writes: its requests and seconds.

Usage: lambda_bench.py STRATA BOOTSTRAP [--targets N] [--hours H] [--runs R]
       [--requests W] [--samples S]
"""
import argparse
import base64
import json
import os
import queue
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "lambda")
# us-east-1 list prices (docs/deploy-aws.md cites them).
PUT_PER_1K, GET_PER_1K, LIST_PER_1K = 0.005, 0.0004, 0.005
LAMBDA_GB_S, LAMBDA_PER_M, HTTP_API_PER_M = 0.0000166667, 0.20, 1.00
AMP_PER_M_SAMPLES = 0.09


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Runtime:
    """A fake of the Lambda Runtime API 2018-06-01."""

    def __init__(self):
        self.events = queue.Queue()
        self.results = {}
        self.cond = threading.Condition()
        self.first_next = None
        self.next_id = 0
        runtime = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out as separate writes: without this, Nagle's algorithm
            # and the client's delayed ACK add ~40 ms to every event.
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_GET(self):
                if not self.path.endswith("/runtime/invocation/next"):
                    self.send_error(404)
                    return
                if runtime.first_next is None:
                    runtime.first_next = time.monotonic()
                rid, event, deadline = runtime.events.get()
                body = json.dumps(event).encode()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", rid)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(deadline))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                                 "arn:aws:lambda:us-east-1:123456789012:function:strata-bench")
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-5e9f0c65-1de4d666d4dd26aced652b6c")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                parts = self.path.split("/")
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if "invocation" in parts:
                    rid, kind = parts[-2], parts[-1]
                    with runtime.cond:
                        runtime.results[rid] = (kind, body, time.monotonic())
                        runtime.cond.notify_all()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.addr = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def invoke(self, event, budget_s=60):
        self.next_id += 1
        rid = f"req-{self.next_id}"
        started = time.monotonic()
        self.events.put((rid, event, int((time.time() + budget_s) * 1000)))
        with self.cond:
            while rid not in self.results:
                if not self.cond.wait(timeout=budget_s + 30):
                    raise RuntimeError(f"no answer to {rid}")
            kind, body, at = self.results.pop(rid)
        if kind != "response":
            raise RuntimeError(f"{rid}: {kind}: {body[:500]!r}")
        return json.loads(body), at - started


def start_bootstrap(binary, runtime, role, store, env_extra, log):
    env = {
        "AWS_LAMBDA_RUNTIME_API": runtime.addr,
        "AWS_LAMBDA_FUNCTION_NAME": f"strata-{role}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "STRATA_LAMBDA_ROLE": role,
        "STRATA_STORE": store,
        "RUST_LOG": "info",
        "STRATA_ARGS": f"--cache-dir {tempfile.mkdtemp(prefix='strata-lambda-cache-')}",
    }
    env.update(env_extra)
    started = time.monotonic()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=log)
    while runtime.first_next is None:
        if proc.poll() is not None:
            raise RuntimeError(f"{role} bootstrap exited with {proc.returncode}")
        time.sleep(0.001)
    return proc, runtime.first_next - started


def http_event(method, path, query="", headers=None, body=None, b64=False):
    with open(os.path.join(FIXTURES, "apigw-v2-request.json")) as f:
        e = json.load(f)
    e["rawPath"] = path
    e["rawQueryString"] = query
    e["requestContext"]["http"]["method"] = method
    e["requestContext"]["http"]["path"] = path
    e["headers"].update(headers or {})
    if body is not None:
        e["body"] = body
        e["isBase64Encoded"] = b64
    return e


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, wire, payload):
    return varint((num << 3) | wire) + payload


def ld(num, data):
    return field(num, 2, varint(len(data)) + data)


def write_request(series, samples_per_series, t0_ms):
    """A prometheus.WriteRequest (remote write 1.0), protobuf."""
    import struct
    out = bytearray()
    for s in range(series):
        ts = bytearray()
        for name, value in (("__name__", "bench_lambda_written"), ("instance", f"host{s}"), ("job", "bench")):
            ts += ld(1, ld(1, name.encode()) + ld(2, value.encode()))
        for k in range(samples_per_series):
            sample = field(1, 1, struct.pack("<d", float(k))) + field(2, 0, varint(t0_ms + k * 15_000))
            ts += ld(2, sample)
        out += ld(1, bytes(ts))
    return bytes(out)


def snappy_literal(data):
    """Snappy raw encoding made of literals only: valid, uncompressed."""
    out = bytearray(varint(len(data)))
    i = 0
    while i < len(data):
        chunk = data[i:i + 65536]
        n = len(chunk) - 1
        if n < 60:
            out.append(n << 2)
        elif n < 256:
            out += bytes([60 << 2, n])
        else:
            out += bytes([61 << 2, n & 0xFF, n >> 8])
        out += chunk
        i += len(chunk)
    return bytes(out)


def body_text(resp):
    """The body of an HTTP answer (`/metrics` is OpenMetrics, which lambda_http base64s)."""
    text = resp.get("body", "")
    return base64.b64decode(text).decode() if resp.get("isBase64Encoded") else text


def store_requests(metrics_text):
    counts = {}
    for m in re.finditer(r'^strata_object_store_requests_total\{operation="(\w+)"\} (\d+)', metrics_text, re.M):
        counts[m.group(1)] = int(m.group(2))
    return counts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("strata")
    ap.add_argument("bootstrap")
    ap.add_argument("--targets", type=int, default=20)
    ap.add_argument("--hours", type=int, default=6)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--requests", type=int, default=30)
    ap.add_argument("--samples", type=int, default=2000)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="strata-lambda-bench-")
    procs = []
    log = open(os.path.join(work, "bootstrap.log"), "wb")
    try:
        port = free_port()
        procs.append(subprocess.Popen([sys.executable, os.path.join(ROOT, "infra", "local", "moto_atomic.py"),
                                       "-H", "127.0.0.1", "-p", str(port)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        endpoint = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                urllib.request.urlopen(urllib.request.Request(f"{endpoint}/strata", method="PUT"))
                break
            except Exception:
                time.sleep(0.05)
        s3env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ALLOW_HTTP": "true", "AWS_REGION": "us-east-1",
                 "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
        env = dict(os.environ, **s3env)
        store = "s3://strata/bench"
        data = os.path.join(work, "data.om")
        subprocess.run([sys.executable, os.path.join(HERE, "gen_dataset.py"), data,
                        "--targets", str(args.targets), "--hours", str(args.hours)], check=True)
        subprocess.run([args.strata, "--store", store, "import", "--quiet", data], check=True, env=env)
        serve_port = free_port()
        procs.append(subprocess.Popen([args.strata, "--store", store, "serve", "--listen", f"127.0.0.1:{serve_port}",
                                       "--no-compact", "--manifest-refresh", "10s"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        serve = f"http://127.0.0.1:{serve_port}"
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{serve}/-/ready")
                break
            except Exception:
                time.sleep(0.1)
        start_ms = 1_700_000_000_000 - (1_700_000_000_000 % 7_200_000)
        end_s = start_ms // 1000 + args.hours * 3600
        queries = [
            ("instant", "sum by (code) (rate(http_requests_total[5m]))", {"time": end_s}),
            ("instant", "topk(5, node_memory_free_bytes)", {"time": end_s}),
            ("range", "sum(rate(node_cpu_seconds_total{mode!=\"idle\"}[5m]))",
             {"start": end_s - 3600, "end": end_s, "step": 60}),
            ("range", "histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
             {"start": end_s - 6 * 3600, "end": end_s, "step": 300}),
        ]

        print(f"dataset: {args.targets} targets x {args.hours} h at 15 s, imported into moto S3")
        print()
        # Query role: init and warm latency against strata serve.
        runtime = Runtime()
        qproc, init = start_bootstrap(args.bootstrap, runtime, "query", store, s3env, log)
        procs.append(qproc)
        print(f"{'role':10} {'INIT (spawn to first next)':>28}")
        print(f"{'query':10} {init * 1000:>25.1f} ms")
        print()
        print(f"{'query':96} {'lambda ms':>10} {'serve ms':>9} {'ratio':>6}")
        ratios = []
        for kind, q, params in queries:
            path = "/api/v1/query" if kind == "instant" else "/api/v1/query_range"
            qs = urllib.parse.urlencode(dict(params, query=q))
            lam, direct = [], []
            for run in range(args.runs + 1):
                resp, took = runtime.invoke(http_event("GET", path, qs))
                assert resp["statusCode"] == 200, resp
                t = time.monotonic()
                with urllib.request.urlopen(f"{serve}{path}?{qs}") as r:
                    direct_body = json.load(r)
                d = time.monotonic() - t
                if run == 0:
                    assert json.loads(resp["body"]) == direct_body, "answers differ"
                    continue  # the first run fills both caches
                lam.append(took)
                direct.append(d)
            ml, md = statistics.median(lam), statistics.median(direct)
            ratios.append(ml / md)
            print(f"{kind + ' ' + q:96} {ml * 1000:>10.2f} {md * 1000:>9.2f} {ml / md:>6.2f}")
        print(f"{'median ratio':96} {'':>10} {'':>9} {statistics.median(ratios):>6.2f}")
        resp, _ = runtime.invoke(http_event("GET", "/metrics"))
        qcounts = store_requests(body_text(resp))
        invocations = len(queries) * (args.runs + 1)
        print(f"query function: {invocations} queries, object-store requests per query: " +
              ", ".join(f"{k} {v / invocations:.2f}" for k, v in sorted(qcounts.items()) if v) +
              " (the first run of each query fills the cache; LIST at most every 10 s)")
        print()

        # Write role: remote write committed inside each request.
        wruntime = Runtime()
        wproc, winit = start_bootstrap(args.bootstrap, wruntime, "write", store, s3env, log)
        procs.append(wproc)
        per_series = 10
        series = max(1, args.samples // per_series)
        now_ms = int(time.time() * 1000) - 3600_000
        latencies = []
        for i in range(args.requests):
            body = snappy_literal(write_request(series, per_series, now_ms + i * per_series * 15_000))
            event = http_event("POST", "/api/v1/write", "", {
                "content-type": "application/x-protobuf", "content-encoding": "snappy",
                "x-prometheus-remote-write-version": "0.1.0"}, base64.b64encode(body).decode(), True)
            resp, took = wruntime.invoke(event)
            assert resp["statusCode"] == 204, resp
            latencies.append(took)
        resp, _ = wruntime.invoke(http_event("GET", "/metrics"))
        text = body_text(resp)
        counts = store_requests(text)
        if not counts:
            raise RuntimeError(f"no object-store counts in /metrics: {resp['statusCode']} {text[:300]!r}")
        samples = args.requests * series * per_series
        per_m = {k: v * 1e6 / samples for k, v in counts.items()}
        gb_s = statistics.mean(latencies) * 1.0 * args.requests * 1e6 / samples
        cost = (per_m.get("put", 0) * PUT_PER_1K / 1000 + per_m.get("get", 0) * GET_PER_1K / 1000
                + per_m.get("list", 0) * LIST_PER_1K / 1000 + gb_s * LAMBDA_GB_S
                + args.requests * 1e6 / samples * (LAMBDA_PER_M + HTTP_API_PER_M) / 1e6)
        print(f"remote write: {args.requests} requests x {series * per_series} samples, committed in each request;"
              f" INIT {winit * 1000:.1f} ms")
        print(f"  latency median {statistics.median(latencies) * 1000:.1f} ms, p90 "
              f"{sorted(latencies)[int(len(latencies) * 0.9) - 1] * 1000:.1f} ms")
        print("  object-store requests per million samples: " +
              ", ".join(f"{k} {v:.0f}" for k, v in sorted(per_m.items()) if v))
        print(f"  cost per million samples (S3 + Lambda 1 GB + HTTP API): ${cost:.4f}"
              f" = {cost / AMP_PER_M_SAMPLES:.3f} x AMP's ${AMP_PER_M_SAMPLES} ingest price")
        print()

        # Compaction role: one scheduled event after the writes.
        cruntime = Runtime()
        cproc, cinit = start_bootstrap(args.bootstrap, cruntime, "compact", store, s3env, log)
        procs.append(cproc)
        resp, took = cruntime.invoke({"task": "compact", "scheduled_time": "<aws.scheduler.scheduled-time>"}, 300)
        print(f"compaction: INIT {cinit * 1000:.1f} ms; one event: {resp['jobs']} jobs, "
              f"{resp['inputs']} blocks in, {resp['outputs']} out, {took:.2f} s, requests {resp['requests']}")
        logtext = open(os.path.join(work, "bootstrap.log"), "rb").read().decode(errors="replace")
        inits = re.findall(r'role=(\w+) init_ms=([\d.]+)', logtext)
        print("logged init_ms: " + ", ".join(f"{r} {float(v):.1f}" for r, v in inits))
    finally:
        for p in procs:
            p.kill()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
