#!/usr/bin/env python3
"""Downsampling benchmark, driven by bench/downsample.sh (which generates the data).

The dataset (gen_dataset.py: ~40 series per target at 15 s) is imported into an S3 store on
moto and compacted with `strata compact --once` until idle: day merges, then 5m and 1h
aggregate blocks (the data is older than the default ages). Then, over the whole dataset at a
1h step, each query runs with max_source_resolution=0s (raw) and =auto:

- cold: a fresh `strata query-server` per query (empty caches), median of --cold-runs
  servers: latency, GETs and bytes fetched;
- warm: median of --runs runs on the same server;
- rows: Prometheus' stats (`stats=all`): samples read, downsampled rows read;
- the answers are compared (aligned queries: equal to 1e-9 relative).

Also prints the bytes of raw, 5m and 1h blocks. Exits 1 on a mismatch.
Usage: downsample_bench.py --work DIR --days D --strata BIN [--runs N] [--cold-runs N]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.request

sys.dont_write_bytecode = True  # no bench/__pycache__ from the imports below
import api_bench as ab  # noqa: E402
from gen_dataset import START_MS  # noqa: E402

HOUR = 3600
QUERIES = [
    ("sum_rate", "sum(rate(http_requests_total[1h]))"),
    ("max_over_time", "max_over_time(temperature_celsius[1h])"),
    ("hist_p90", "histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[1h])))"),
]
BYTES_RE = re.compile(r'^strata_object_store_get_bytes_total(?:\{[^}]*\})?\s+(\S+)', re.M)


def get_bytes(base):
    with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
        text = r.read().decode()
    vals = [float(v) for v in BYTES_RE.findall(text)]
    return sum(vals) if vals else None


def storage(strata, store, env):
    """Bytes and blocks per resolution from `strata inspect` (its RES column)."""
    out = subprocess.run([strata, "--store", store, "inspect"], env=env, capture_output=True,
                         text=True, check=True).stdout
    by_res = {}
    for line in out.splitlines():
        cols = line.split()
        if len(cols) >= 8 and re.match(r"^[0-9A-Z]{26}$", cols[0]):
            res = cols[7] if len(cols) >= 8 else "raw"
            b = by_res.setdefault(res, [0, 0, 0])
            b[0] += 1
            b[1] += int(cols[5])
            b[2] += int(cols[4])
    return by_res


# The stateless query tier (`strata query-server`, what the query Lambda runs): `serve` would
# also start its embedded compactor, whose first pass LISTs the bucket while the cold query
# runs, and moto answers requests one at a time. A sample limit high enough for the raw month
# (Prometheus' default of 50 M stops the raw histogram query, which reads every bucket sample
# of the month), and the manifest refreshed at most every 10 s (the Lambda default): otherwise
# every warm query also pays a LIST, which moto answers by scanning the whole bucket.
SERVER = "query-server"
SERVE_FLAGS = ("--query-max-samples", "2000000000", "--manifest-refresh", "10s")


def stats_of(body):
    d = json.loads(body)["data"].get("stats", {})
    return d.get("samples", {}).get("totalQueryableSamples"), d.get("downsampling", {}).get("rows")


def close(a, b):
    if a.keys() != b.keys():
        return False
    for k in a:
        pa, pb = a[k], b[k]
        if pa.keys() != pb.keys():
            return False
        for t in pa:
            x, y = float(pa[t]), float(pb[t])
            if not (x == y or abs(x - y) <= 1e-9 * max(abs(x), abs(y))):
                return False
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--days", type=int, required=True)
    ap.add_argument("--strata", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--cold-runs", type=int, default=3)
    args = ap.parse_args()
    ab.PIDFILE = os.path.join(args.work, "pids")
    store = ab.MOTO_STORE
    t0 = time.perf_counter()
    env = ab.import_on_moto(args.strata, args.work)
    print(f"import: {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    for i in range(8):
        r = subprocess.run([args.strata, "--store", store, "compact", "--once"], env=env,
                           capture_output=True, text=True)
        if r.returncode:
            sys.exit(f"error: compact failed:\n{r.stderr[-2000:]}")
        if "jobs=0" in r.stdout + r.stderr or "0 jobs" in r.stdout + r.stderr:
            break
    print(f"compaction and downsampling: {time.perf_counter() - t0:.1f} s ({i + 1} passes)")
    by_res = storage(args.strata, store, env)
    raw = by_res.get("raw", [0, 0, 0])[1]
    print(f"\n{'resolution':10s} {'blocks':>7s} {'bytes':>14s} {'rows':>12s} {'x raw':>7s}")
    for res in ("raw", "5m", "1h"):
        n, b, rows = by_res.get(res, [0, 0, 0])
        print(f"{res:10s} {n:7d} {b:14d} {rows:12d} {b / raw if raw else 0:7.3f}")

    start = START_MS // 1000 + 2 * HOUR
    end = START_MS // 1000 + args.days * 24 * HOUR
    end -= end % HOUR
    start -= start % HOUR
    print(f"\nqueries over {(end - start) / 86400:.1f} days at a 1h step; cold = median of "
          f"{args.cold_runs} fresh servers, warm = median of {args.runs}")
    print(f"{'query':14s} {'source':6s} {'cold ms':>9s} {'warm ms':>9s} {'GETs':>6s} {'MiB got':>8s} "
          f"{'samples read':>13s} {'agg rows':>9s}  check")
    ok = True
    ratios = []
    for name, expr in QUERIES:
        got = {}
        for source in ("0s", "auto"):
            params = {"query": expr, "start": start, "end": end, "step": HOUR,
                      "max_source_resolution": source, "stats": "all"}
            try:
                colds = []
                for i in range(args.cold_runs):
                    p, base = ab.start_strata(args.strata, store, args.work, env, f"strata-{source}",
                                              SERVE_FLAGS, cmd=SERVER)
                    try:
                        g0, b0 = ab.get_count(base), get_bytes(base)
                        c_ms, body = ab.run_query(base, "/api/v1/query_range", params)
                        g1, b1 = ab.get_count(base), get_bytes(base)
                        colds.append(c_ms)
                        if i == args.cold_runs - 1:
                            w_ms = statistics.median(
                                ab.run_query(base, "/api/v1/query_range", params)[0]
                                for _ in range(args.runs))
                    finally:
                        ab.stop(p)
                c_ms = statistics.median(colds)
            except (OSError, RuntimeError, ValueError) as e:
                print(f"{name:14s} {source:6s} ERROR {ab.http_error(e)}", flush=True)
                ok = False
                break
            samples, rows = stats_of(body)
            got[source] = (c_ms, w_ms, samples, ab.parse_result(body))
            gets = g1 - g0 if None not in (g0, g1) else None
            mib = (b1 - b0) / 2**20 if None not in (b0, b1) else None
            check = ""
            if source == "auto":
                same = close(got["0s"][3], got["auto"][3])
                ok &= same
                check = "equal" if same else "MISMATCH"
            print(f"{name:14s} {source:6s} {c_ms:9.1f} {w_ms:9.1f} {ab.fmt(gets, '.0f'):>6s} "
                  f"{ab.fmt(mib, '.1f'):>8s} {ab.fmt(samples, '.0f'):>13s} {ab.fmt(rows, '.0f'):>9s}  {check}",
                  flush=True)
        if len(got) < 2:
            continue
        (rc, rw, rs, _), (ac, aw, as_, _) = got["0s"], got["auto"]
        ratios.append((name, rc / ac, rw / aw, (rs or 0) / max(as_ or 1, 1)))
    print()
    for name, cold, warm, rows in ratios:
        print(f"{name:14s} raw/auto: cold {cold:.1f}x, warm {warm:.1f}x, samples read {rows:.0f}x")
    print("answers equal on aligned queries" if ok else "MISMATCH between raw and downsampled answers")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
