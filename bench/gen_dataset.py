#!/usr/bin/env python3
"""Generates a realistic, deterministic OpenMetrics backfill file for storage benchmarks.

Shape: TARGETS scrape targets scraped every 15 s with millisecond jitter (all series of a
target share a scrape's timestamp, as in Prometheus), for HOURS hours. Per target:
- http_requests_total{method,code}: counters with occasional resets (process restarts);
- node_cpu_seconds_total{cpu,mode}: counters with two-decimal increments;
- node_memory_free_bytes: gauge, multiples of 4096;
- temperature_celsius{sensor}: gauge with one or two decimals;
- queue_depth: small integer gauge;
- http_request_duration_seconds: classic histogram (10 buckets + _sum + _count).
Usage: gen_dataset.py OUT [--targets N] [--hours H] [--seed S]
"""
import argparse
import random

START_MS = 1_700_000_000_000 - (1_700_000_000_000 % 7_200_000)  # a 2h boundary
STEP_MS = 15_000
BUCKETS = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"]
BUCKET_P = [0.05, 0.12, 0.3, 0.55, 0.75, 0.9, 0.96, 0.99, 0.998, 1.0]


def fmt_ts(ms):
    return f"{ms // 1000}.{ms % 1000:03d}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--targets", type=int, default=40)
    ap.add_argument("--hours", type=float, default=12)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    steps = int(a.hours * 3600 * 1000 // STEP_MS)
    targets = [f"10.0.{i // 250}.{i % 250}:9100" for i in range(a.targets)]
    # Scrape timestamps per target: a fixed offset within the interval plus ms jitter.
    ts = {}
    for t in targets:
        offset = rnd.randrange(STEP_MS)
        ts[t] = [START_MS + offset + i * STEP_MS + rnd.randint(-25, 25) for i in range(steps)]
    series = 0
    samples = 0
    with open(a.out, "w") as f:
        w = f.write

        def counter_series(name, labels, t, inc, reset_p, decimals):
            nonlocal series, samples
            v = rnd.randrange(1000)
            series += 1
            for i, ms in enumerate(ts[t]):
                if rnd.random() < reset_p:
                    v = 0
                v += inc()
                val = f"{v:.{decimals}f}" if decimals else str(int(v))
                w(f'{name}{{{labels}}} {val} {fmt_ts(ms)}\n')
            samples += steps

        w("# HELP http_requests_total Requests served.\n# TYPE http_requests_total counter\n")
        for t in targets:
            for method, code, rate in [("GET", "200", 40), ("GET", "404", 2), ("POST", "200", 10), ("POST", "500", 0.3)]:
                labels = f'job="api",instance="{t}",method="{method}",code="{code}"'
                counter_series("http_requests_total", labels, t,
                               lambda r=rate: rnd.randint(0, int(r * 2 * 15)) if r >= 1 else (1 if rnd.random() < r else 0),
                               1 / 2000, 0)
        w("# HELP node_cpu_seconds_total CPU time.\n# TYPE node_cpu_seconds_total counter\n")
        for t in targets:
            for cpu in range(4):
                for mode, share in [("idle", 0.7), ("user", 0.2), ("system", 0.08), ("iowait", 0.02)]:
                    labels = f'job="node",instance="{t}",cpu="{cpu}",mode="{mode}"'
                    counter_series("node_cpu_seconds_total", labels, t,
                                   lambda s=share: round(rnd.uniform(0.5, 1.5) * s * 15, 2), 0, 2)
        w("# HELP node_memory_free_bytes Free memory.\n# TYPE node_memory_free_bytes gauge\n")
        for t in targets:
            v = rnd.randrange(1 << 20, 1 << 22) * 4096
            series += 1
            for ms in ts[t]:
                v = max(4096, v + rnd.randint(-2000, 2000) * 4096)
                w(f'node_memory_free_bytes{{job="node",instance="{t}"}} {v} {fmt_ts(ms)}\n')
            samples += steps
        w("# HELP temperature_celsius Sensor temperature.\n# TYPE temperature_celsius gauge\n")
        for t in targets:
            for sensor, decimals in [("cpu", 1), ("board", 2)]:
                v = rnd.uniform(30, 60)
                series += 1
                for ms in ts[t]:
                    v = min(95, max(10, v + rnd.gauss(0, 0.3)))
                    w(f'temperature_celsius{{job="node",instance="{t}",sensor="{sensor}"}} {v:.{decimals}f} {fmt_ts(ms)}\n')
                samples += steps
        w("# HELP queue_depth Items waiting.\n# TYPE queue_depth gauge\n")
        for t in targets:
            series += 1
            v = 5
            for ms in ts[t]:
                v = max(0, v + rnd.randint(-3, 3))
                w(f'queue_depth{{job="api",instance="{t}"}} {v} {fmt_ts(ms)}\n')
            samples += steps
        w("# HELP http_request_duration_seconds Latency.\n# TYPE http_request_duration_seconds histogram\n")
        for t in targets:
            for handler in ["/api", "/health"]:
                base = f'job="api",instance="{t}",handler="{handler}"'
                counts = [0] * len(BUCKETS)
                total = 0.0
                n = 0
                series += len(BUCKETS) + 2
                for ms in ts[t]:
                    if rnd.random() < 1 / 3000:
                        counts = [0] * len(BUCKETS)
                        total, n = 0.0, 0
                    new = rnd.randint(0, 300 if handler == "/api" else 15)
                    for _ in range(new):
                        u = rnd.random()
                        for bi, p in enumerate(BUCKET_P):
                            if u <= p:
                                for bj in range(bi, len(BUCKETS)):
                                    counts[bj] += 1
                                break
                        total += rnd.expovariate(8)
                    n += new
                    stamp = fmt_ts(ms)
                    for le, c in zip(BUCKETS, counts):
                        w(f'http_request_duration_seconds_bucket{{{base},le="{le}"}} {c} {stamp}\n')
                    w(f'http_request_duration_seconds_sum{{{base}}} {total:.3f} {stamp}\n')
                    w(f'http_request_duration_seconds_count{{{base}}} {n} {stamp}\n')
                samples += steps * (len(BUCKETS) + 2)
        w("# EOF\n")
    print(f"{a.out}: {series} series, {samples} samples, {steps} steps of 15s")


if __name__ == "__main__":
    main()
