#!/usr/bin/env python3
"""Compaction benchmark, driven by bench/compact.sh (which generates the data set).

The same OpenMetrics file imported twice: as one-minute blocks (what a one-minute write-buffer
flush commits; store "pieces") and once with the default 2 h blocks (store "single"). A copy of
the pieces store is compacted per window with `strata compact --once --compact.late-grace 0s`, timed
with wait4() (wall, user+sys CPU, peak RSS; what /usr/bin/time -v reports). Then
bytes/sample before and after, object-store requests per job, and the query latency of the
pieces, single and compacted stores (api_bench.py's query list, served side by side,
interleaved runs) with a result check: a compacted store must answer exactly like the single
import.

Usage: compact_bench.py --work DIR --hours H --strata BIN [--runs N] [--windows 2h,24h]
                        [--quiet-flag --quiet]
  DIR holds data.om; the stores are created under it.
Exit status 1 when a compacted store answers differently from the single import, a query
fails on either, or compaction lost or duplicated samples.
"""
import argparse
import atexit
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone

sys.dont_write_bytecode = True  # no bench/__pycache__ from the imports below
import api_bench as ab  # noqa: E402
from api_bench import (DATA_START, QUERIES, fmt, http_error, median_or_none,  # noqa: E402
                       parse_result, query_params, run_query)

REL_TOL = 1e-9  # compaction must not change answers
TARGET_BPS_RATIO = 1.03  # bytes/sample after compaction vs the single import
TARGET_LATENCY_RATIO = 1.10  # median over the query set, compacted / single import
TARGET_MERGE_RATE = 3e6  # samples per CPU-second
ULID = r"[0-9A-HJKMNP-TV-Z]{26}"


def die(msg):
    sys.exit(f"error: {msg}")


# ---- processes ------------------------------------------------------------------------------

def run_measured(argv, out_path):
    """Runs argv to completion (stdout and stderr to out_path); returns rc, wall, user, sys (s)
    and maxrss (KiB) of the child from wait4(), i.e. what /usr/bin/time -v reports."""
    with open(out_path, "wb") as out:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        ab.SERVERS.append(p)  # so that SIGTERM (atexit: stop_all) also stops it
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    ab.SERVERS.remove(p)
    with open(out_path, errors="replace") as f:
        text = f.read()
    return {"rc": p.returncode, "wall": wall, "user": ru.ru_utime, "sys": ru.ru_stime,
            "cpu": ru.ru_utime + ru.ru_stime, "maxrss_kib": ru.ru_maxrss, "out": text}


def check_run(r, what, log):
    if r["rc"] != 0:
        die(f"{what} exited with status {r['rc']} (log {log}); output tail:\n{r['out'][-2000:]}")


def dir_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total


def inspect(strata, store):
    """Live blocks from `strata inspect` (the manifest), plus what lies on disk under blocks/
    (inputs of a compaction stay there until `strata gc`)."""
    r = subprocess.run([strata, "--store", store, "inspect"], capture_output=True, text=True)
    if r.returncode:
        die(f"strata inspect {store} failed:\n{r.stderr[-2000:]}")
    out = r.stdout
    ids = re.findall(rf"^({ULID})\s", out, re.M)
    head = re.search(r"manifest seq \d+, (\d+) blocks", out)
    tot = re.search(r"^total: (\d+) samples, (\d+) bytes", out, re.M)
    if not tot:
        die(f"cannot parse `strata inspect {store}`:\n{out[-2000:]}")
    blocks = int(head.group(1)) if head else len(ids)
    samples, nbytes = int(tot.group(1)), int(tot.group(2))
    bdir = os.path.join(store, "blocks")
    on_disk = set(os.listdir(bdir)) if os.path.isdir(bdir) else set()
    live = set(ids)
    files = sum(len(os.listdir(os.path.join(bdir, i))) for i in live & on_disk)
    dead = on_disk - live
    return {"blocks": blocks, "files": files if ids else None, "bytes": nbytes, "samples": samples,
            "bps": nbytes / max(samples, 1), "dead_blocks": len(dead),
            "dead_bytes": sum(dir_bytes(os.path.join(bdir, d)) for d in dead)}


NUM = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def parse_compacted(text):
    """The last `compacted: k=v ...` line as a dict (numbers as floats; requests as a dict of
    operation -> count), or None. Unknown keys are kept; a seconds suffix (`1.2s`) is dropped."""
    lines = re.findall(r"^compacted:(.*)$", text, re.M)
    if not lines:
        return None
    out = {}
    for k, v in re.findall(r"(\w+)=(\S+)", lines[-1]):
        if k == "requests":
            out[k] = {op: float(n) for op, n in re.findall(r"(\w+):(" + NUM.pattern + ")", v)}
        else:
            m = re.fullmatch(f"({NUM.pattern})s?", v)
            out[k] = float(m.group(1)) if m else v
    return out


# ---- result comparison (stricter than api_bench's 1e-6) ---------------------------------------

def same_value(a, b):
    x, y = float(a), float(b)
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return math.isclose(x, y, rel_tol=REL_TOL, abs_tol=1e-300) or x == y


def compare(a, b):
    """'' when both results match, else a short description of the difference."""
    if len(a) != len(b):
        return f"series {len(a)}!={len(b)}"
    if a.keys() != b.keys():
        return "labels differ"
    bad_ts = sum(1 for k in a if a[k].keys() != b[k].keys())
    bad_v = sum(1 for k in a if a[k].keys() == b[k].keys()
                and not all(same_value(v, b[k][t]) for t, v in a[k].items()))
    parts = []
    if bad_ts:
        parts.append(f"{bad_ts} series' timestamps differ")
    if bad_v:
        parts.append(f"{bad_v} series' values differ")
    return ", ".join(parts)


# ---- steps ----------------------------------------------------------------------------------

def import_stores(args, data):
    stores = {}
    print("\nimport")
    print(f"  {'store':38s} {'wall s':>8s} {'cpu s':>8s} {'peak MiB':>9s}")
    for key, what, extra in [("pieces", "1-minute pieces (--block-duration 1m)", ["--block-duration", "1m"]),
                             ("single", "single import (2h blocks)", [])]:
        store = os.path.join(args.work, key)
        log = os.path.join(args.work, f"import-{key}.log")
        argv = [args.strata, "--store", store, "import", *extra]
        if args.quiet_flag:
            argv.append(args.quiet_flag)
        r = run_measured(argv + [data], log)
        check_run(r, f"strata import ({key})", log)
        print(f"  {what:38s} {r['wall']:8.2f} {r['cpu']:8.2f} {r['maxrss_kib'] / 1024:9.1f}", flush=True)
        stores[key] = store
    return stores


def compact(args, src, window):
    store = os.path.join(args.work, f"compacted-{window}")
    shutil.copytree(src, store)  # cp -r: the pieces store stays as it was, for the latency part
    log = os.path.join(args.work, f"compact-{window}.log")
    r = run_measured([args.strata, "--store", store, "compact", "--once", "--compact.late-grace", "0s",
                      "--compact.window", window], log)
    check_run(r, f"strata compact --window {window}", log)
    line = parse_compacted(r["out"])
    if line is None:
        print(f"warning: no `compacted: ...` line in the output of compact --window {window}; "
              f"samples from `strata inspect`, requests unknown. Output tail:\n{r['out'][-500:]}")
        line = {}
    if line.get("jobs") == 0:
        die(f"compact --window {window} did no job (is --compact.late-grace honoured?); output:\n{r['out'][-1000:]}")
    return store, r, line


def per_job(line, op):
    req, jobs = line.get("requests"), line.get("jobs")
    if not req or op not in req or not jobs:
        return None
    return req[op] / jobs


def mib(kib):
    return kib / 1024


def storage_table(stats, ref):
    print("\nstorage (live blocks of the manifest, `strata inspect`)")
    print(f"  {'store':22s} {'blocks':>7s} {'files':>7s} {'bytes':>13s} {'samples':>11s} "
          f"{'B/sample':>9s} {'vs single':>9s}  left for gc")
    for name, s in stats.items():
        ratio = s["bps"] / ref["bps"] if ref["bps"] else None
        gc = f"{s['dead_blocks']} blocks, {s['dead_bytes']} bytes" if s["dead_blocks"] else "-"
        print(f"  {name:22s} {s['blocks']:7d} {fmt(s['files'], 'd'):>7s} {s['bytes']:13d} {s['samples']:11d} "
              f"{s['bps']:9.3f} {fmt(ratio, '.3f'):>8s}x  {gc}")


def compaction_table(runs):
    print("\ncompaction (`strata compact --once --compact.late-grace 0s`, on a copy of the pieces store)")
    print(f"  {'window':6s} {'jobs':>5s} {'in->out':>11s} {'samples':>11s} {'wall s':>7s} {'cpu s':>7s} "
          f"{'cores':>5s} {'Msmp/cpu-s':>10s} {'Msmp/s':>7s} {'peak MiB':>8s} "
          f"{'get/job':>7s} {'put/job':>7s} {'list/job':>8s} {'del/job':>7s} {'blocks':>6s}")
    for w, c in runs.items():
        r, line, s = c["run"], c["line"], c["after"]
        inout = (f"{fmt(line.get('inputs'), '.0f')}->{fmt(line.get('outputs'), '.0f')}"
                 if "inputs" in line else "n/a")
        per_cpu = c["samples"] / r["cpu"] if r["cpu"] > 0 else None
        per_wall = c["samples"] / r["wall"] if r["wall"] > 0 else None
        print(f"  {w:6s} {fmt(line.get('jobs'), '.0f'):>5s} {inout:>11s} {c['samples']:11.0f} {r['wall']:7.2f} "
              f"{r['cpu']:7.2f} {r['cpu'] / max(r['wall'], 1e-9):5.2f} {fmt(per_cpu and per_cpu / 1e6, '.2f'):>10s} "
              f"{fmt(per_wall and per_wall / 1e6, '.2f'):>7s} {mib(r['maxrss_kib']):8.1f} "
              f"{fmt(per_job(line, 'get')):>7s} {fmt(per_job(line, 'put')):>7s} {fmt(per_job(line, 'list')):>8s} "
              f"{fmt(per_job(line, 'delete')):>7s} {s['blocks']:6d}")
        extra = {k: v for k, v in line.items()
                 if k not in ("jobs", "inputs", "outputs", "samples", "requests", "bytes_in", "bytes_out")}
        if "bytes_in" in line or "bytes_out" in line or extra:
            rest = " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in extra.items())
            print(f"         bytes_in={fmt(line.get('bytes_in'), '.0f')} bytes_out={fmt(line.get('bytes_out'), '.0f')} {rest}".rstrip())


def latency(args, stores, t_end):
    """Per query: median ms of each store, ratios to the single import, result check.
    Returns ({store: [ratio to single]}, failures)."""
    bases = {}
    for name, store in stores.items():
        bases[name] = ab.start_strata(args.strata, store, args.work, tag=f"serve-{name}")[1]
    names = list(stores)  # "single" first
    others = [n for n in names if n != "single"]
    compacted = [n for n in names if n.startswith("c")]
    print(f"\nquery latency: median of {args.runs} runs after 2 warm-up runs, interleaved, local disk, ms;\n"
          f"  r:X = X / single; check = results of each store vs single (rel. tolerance {REL_TOL:g})")
    head = f"  {'query':15s} {'kind':8s}" + "".join(f" {n:>9s}" for n in names)
    head += "".join(f" {'r:' + n:>9s}" for n in others) + f" {'series':>7s}  check"
    print(head)
    ratios = {n: [] for n in others}
    failures = 0
    for name, expr, kind, _ in QUERIES:
        path, params = query_params(expr, kind, t_end, DATA_START)
        results, errors = {}, {}
        for who, base in bases.items():
            try:
                for _ in range(2):
                    run_query(base, path, params)
                results[who] = parse_result(run_query(base, path, params)[1])
            except (OSError, RuntimeError, ValueError) as e:
                errors[who] = http_error(e)
        samples = {who: [] for who in bases if who not in errors}
        order = list(samples)
        for i in range(args.runs):  # interleaved, rotating, so that drift and position affect all alike
            for who in order[i % len(order):] + order[:i % len(order)]:
                samples[who].append(run_query(bases[who], path, params)[0])
        times = {who: statistics.median(ts) for who, ts in samples.items()}
        b = times.get("single")
        row_ratios = {}
        for n in others:
            r = times[n] / b if n in times and b else None
            row_ratios[n] = r
            if r is not None:
                ratios[n].append(r)
        checks = []
        if errors:
            checks.append("ERROR " + "; ".join(f"{w}: {e}" for w, e in errors.items()))
            failures += sum(1 for w in errors if w == "single" or w in compacted)
        if "single" in results:
            for n in others:
                if n in results:
                    diff = compare(results[n], results["single"])
                    if diff:
                        checks.append(f"MISMATCH {n}: {diff}")
                        failures += n in compacted
        check = "; ".join(checks) or "ok"
        series = str(len(results["single"])) if "single" in results else "-"
        print(f"  {name:15s} {kind:8s}" + "".join(f" {fmt(times.get(n)):>9s}" for n in names)
              + "".join(f" {fmt(row_ratios[n], '.2f'):>9s}" for n in others)
              + f" {series:>7s}  {check}", flush=True)
    print()
    for n in others:
        print(f"  median ratio {n}/single = {fmt(median_or_none(ratios[n]), '.2f')}x ({len(ratios[n])} queries)")
    return {n: median_or_none(rs) for n, rs in ratios.items()}, failures


def verdict(ok):
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--hours", type=float, required=True)
    ap.add_argument("--strata", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--windows", default="2h,24h")
    ap.add_argument("--quiet-flag", default="--quiet", help="import's no-progress-bar flag ('' for none)")
    args = ap.parse_args()
    windows = [w for w in args.windows.split(",") if w]
    atexit.register(ab.stop_all)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    data = os.path.join(args.work, "data.om")
    t_end = int(DATA_START + args.hours * 3600 - 120) // 60 * 60

    stores = import_stores(args, data)
    stats = {"pieces (1m, before)": inspect(args.strata, stores["pieces"]),
             "single (2h import)": inspect(args.strata, stores["single"])}
    before, single = stats["pieces (1m, before)"], stats["single (2h import)"]
    if before["samples"] != single["samples"]:
        print(f"warning: the pieces store holds {before['samples']} samples, the single import "
              f"{single['samples']}")
    runs, failures = {}, 0
    for w in windows:
        store, r, line = compact(args, stores["pieces"], w)
        after = inspect(args.strata, store)
        stats[f"compacted {w}"] = after
        if after["samples"] != before["samples"]:
            print(f"MISMATCH: compaction ({w}) changed the sample count: {before['samples']} -> {after['samples']}")
            failures += 1
        runs[w] = {"store": store, "run": r, "line": line, "after": after,
                   "samples": line.get("samples", after["samples"])}
    storage_table(stats, single)
    compaction_table(runs)

    print(f"\nevaluation time {datetime.fromtimestamp(t_end, timezone.utc):%Y-%m-%d %H:%M:%S}Z "
          f"(data from {datetime.fromtimestamp(DATA_START, timezone.utc):%H:%M}Z, {args.hours:g} h)")
    serve = {"single": stores["single"], "pieces": stores["pieces"]}
    serve.update({f"c{w}": runs[w]["store"] for w in windows})
    lat, qfail = latency(args, serve, t_end)
    failures += qfail
    ab.stop_all()

    print("\nsummary" + " " * 38 + f"{'figure':>12s} {'target':>10s}")
    print(f"  {'bytes/sample, pieces before / single':43s} {before['bps'] / single['bps']:11.3f}x {'':>10s}")
    print(f"  {'median latency, pieces / single':43s} {fmt(lat.get('pieces'), '.2f'):>11s}x {'':>10s}")
    for w in windows:
        c = runs[w]
        ratio = c["after"]["bps"] / single["bps"]
        l = lat.get(f"c{w}")
        rate = c["samples"] / c["run"]["cpu"] if c["run"]["cpu"] > 0 else None
        print(f"  window {w}:")
        print(f"    {'bytes/sample after / single':41s} {ratio:11.3f}x {'<= ' + format(TARGET_BPS_RATIO, '.2f') + 'x':>10s}  "
              f"{verdict(ratio <= TARGET_BPS_RATIO)}")
        print(f"    {'median latency, compacted / single':41s} {fmt(l, '.2f'):>11s}x "
              f"{'<= ' + format(TARGET_LATENCY_RATIO, '.2f') + 'x':>10s}  {verdict(None if l is None else l <= TARGET_LATENCY_RATIO)}")
        print(f"    {'merge, M samples per CPU-second':41s} {fmt(rate and rate / 1e6, '.2f'):>12s} "
              f"{'>= ' + format(TARGET_MERGE_RATE / 1e6, 'g'):>10s}  {verdict(None if rate is None else rate >= TARGET_MERGE_RATE)}")
        print(f"    {'peak memory of the compaction, MiB':41s} {mib(c['run']['maxrss_kib']):12.1f}")
    if failures:
        print(f"\nFAILED: {failures} result mismatch(es) or error(s) on the single or compacted stores "
              "(compaction must not change answers)")
        sys.exit(1)


if __name__ == "__main__":
    main()
