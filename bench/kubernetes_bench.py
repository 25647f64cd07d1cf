#!/usr/bin/env python3
"""Kubernetes discovery cost: a fake API server (Python) holding PODS pods, and one
`strata scrape` worker discovering them with `kubernetes_sd_configs` (role pod, JOBS jobs
over the same pods, as monitors would make). Targets are kept through relabeling but point at
a closed port, so the worker does discover, relabel and schedule them (scrapes fail fast).

With --monitors M the worker has no jobs of its own: the pods are spread over --namespaces
namespaces, the fake serves M PodMonitors (monitoring.coreos.com/v1), each selecting the pods
of one `app` label in its own namespace, and the worker translates and runs them through its
`kubernetes_monitors` section. The time for one more PodMonitor to reach the target set is
measured too.

Prints the worker's resident memory and CPU after the initial LIST has settled, then during
CHURN seconds of RATE pod updates per second streamed on the watch, and the time from an
update to the target set changing.

Usage: kubernetes_bench.py STRATA [--pods N] [--jobs J | --monitors M [--namespaces K]]
                                  [--rate R] [--churn S]
"""
import argparse
import json
import os
import queue
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


NAMESPACES = 1
APPS = 100


def namespace(i):
    return "default" if NAMESPACES == 1 else f"ns-{i % NAMESPACES}"


def pod(i, version, generation=0):
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": f"pod-{i:05d}", "namespace": namespace(i), "uid": f"uid-{i}",
                     "resourceVersion": str(version),
                     "labels": {"app": f"app-{i % APPS}", "generation": str(generation)},
                     "annotations": {"prometheus.io/scrape": "true"}},
        "spec": {"nodeName": f"node-{i % 50}", "containers": [
            {"name": "main", "image": "app:1", "ports": [{"name": "metrics", "containerPort": 9100, "protocol": "TCP"}]}]},
        "status": {"phase": "Running", "podIP": f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",
                   "hostIP": "10.255.0.1", "conditions": [{"type": "Ready", "status": "True"}]},
    }


def pod_monitor(k, version, name=None):
    """PodMonitor selecting the pods of app-K (all in one namespace); their address is
    rewritten to a closed port."""
    return {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor",
        "metadata": {"name": name or f"monitor-{k:04d}", "namespace": namespace(k),
                     "resourceVersion": str(version), "uid": f"pm-{k}-{name}"},
        "spec": {"selector": {"matchLabels": {"app": f"app-{k}"}},
                 "podMetricsEndpoints": [{"port": "metrics", "interval": "60s", "relabelings": [
                     {"sourceLabels": ["__meta_kubernetes_pod_ip"], "targetLabel": "__address__",
                      "replacement": "127.0.0.1:1"}]}]},
    }


def collection(path):
    """(plural, namespace or None) of a LIST/WATCH path."""
    parts = path.strip("/").split("/")
    if "namespaces" in parts[:-1]:
        i = parts.index("namespaces")
        if i + 2 < len(parts):
            return parts[i + 2], parts[i + 1]
    return parts[-1], None


class Api:
    def __init__(self, pods, monitors=0):
        self.version = 1
        self.objects = {"pods": {f"pod-{i:05d}": pod(i, 1) for i in range(pods)},
                        "podmonitors": {f"monitor-{k:04d}": pod_monitor(k, 1) for k in range(monitors)},
                        "servicemonitors": {}}
        self.pods = self.objects["pods"]
        self.watchers = []
        self.lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *a):
                pass

            def do_GET(self):
                u = urllib.parse.urlparse(self.path)
                q = dict(urllib.parse.parse_qsl(u.query))
                plural, ns = collection(u.path)
                if q.get("watch") == "true":
                    return self.watch(plural, ns)
                objects = api.objects.get(plural, {})
                names = sorted(n for n, o in objects.items() if ns is None or o["metadata"]["namespace"] == ns)
                after = q.get("continue", "")
                limit = int(q.get("limit", "500"))
                page = [n for n in names if n > after][:limit]
                more = len([n for n in names if n > after]) > len(page)
                body = json.dumps({"kind": "List", "apiVersion": "v1",
                                   "metadata": {"resourceVersion": str(api.version),
                                                "continue": page[-1] if more else ""},
                                   "items": [objects[n] for n in page]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def watch(self, plural, ns):
                q = queue.Queue()
                entry = (plural, ns, q)
                with api.lock:
                    api.watchers.append(entry)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    while True:
                        try:
                            line = q.get(timeout=5)
                        except queue.Empty:
                            line = json.dumps({"type": "BOOKMARK", "object": {"kind": "Pod", "apiVersion": "v1",
                                               "metadata": {"resourceVersion": str(api.version)}}}) + "\n"
                        data = line.encode()
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                        self.wfile.flush()
                except OSError:
                    pass
                finally:
                    with api.lock:
                        api.watchers.remove(entry)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def publish(self, plural, kind, obj):
        """Stores OBJ (at the next version) and streams the event; the caller holds the lock."""
        self.version += 1
        obj["metadata"]["resourceVersion"] = str(self.version)
        self.objects[plural][obj["metadata"]["name"]] = obj
        line = json.dumps({"type": kind, "object": obj}) + "\n"
        for p, ns, w in self.watchers:
            if p == plural and (ns is None or ns == obj["metadata"]["namespace"]):
                w.put(line)
        return time.monotonic()

    def update(self, i, generation):
        with self.lock:
            self.publish("pods", "MODIFIED", pod(i, 0, generation))


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


def targets(url):
    with urllib.request.urlopen(f"{url}/api/v1/targets?state=active", timeout=30) as r:
        return json.load(r)["data"]["activeTargets"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("strata")
    ap.add_argument("--pods", type=int, default=10000)
    ap.add_argument("--jobs", type=int, default=10)
    ap.add_argument("--rate", type=int, default=50)
    ap.add_argument("--churn", type=int, default=30)
    ap.add_argument("--monitors", type=int, default=0)
    ap.add_argument("--namespaces", type=int, default=10)
    args = ap.parse_args()
    global NAMESPACES, APPS
    if args.monitors:
        # Monitor k selects app-k; the pods of app-k all live in namespace k % NAMESPACES.
        NAMESPACES, APPS = args.namespaces, args.monitors
        assert APPS % NAMESPACES == 0
    api = Api(args.pods, args.monitors)
    work = tempfile.mkdtemp(prefix="strata-k8s-bench-")
    jobs = []
    for j in range(args.jobs):
        jobs.append(f"""  - job_name: monitor-{j}
    scrape_interval: 60s
    kubernetes_sd_configs: [{{role: pod, api_server: '{api.url}', namespaces: {{names: [default]}}}}]
    relabel_configs:
      - source_labels: [__meta_kubernetes_pod_label_app]
        regex: app-{j}.*
        action: keep
      - source_labels: [__meta_kubernetes_pod_name]
        target_label: pod
      - source_labels: [__meta_kubernetes_pod_ip]
        target_label: __address__
        replacement: 127.0.0.1:1
""")
    with open(f"{work}/prometheus.yml", "w") as f:
        if args.monitors:
            f.write(f"kubernetes_monitors:\n  api_server: '{api.url}'\n")
        else:
            f.write("scrape_configs:\n" + "".join(jobs))
    port = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler).server_address[1]
    proc = subprocess.Popen([args.strata, "--store", f"{work}/store", "scrape", "--config", f"{work}/prometheus.yml",
                             "--listen", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        if args.monitors:
            expected = args.pods
        else:
            expected = sum(1 for i in range(args.pods)
                           if any(f"app-{i % 100}".startswith(f"app-{j}") for j in range(args.jobs)))
        started = time.monotonic()
        while True:
            try:
                n = len(targets(url))
                if n >= expected:
                    break
            except Exception:
                pass
            time.sleep(0.2)
        settle = time.monotonic() - started
        time.sleep(2)
        cpu0, rss0 = cpu_seconds(proc.pid), rss_mib(proc.pid)
        if args.monitors:
            print(f"{args.pods} pods in {NAMESPACES} namespaces, {args.monitors} PodMonitors "
                  f"(one job each, {args.pods // args.monitors} pods per monitor), {expected} targets")
        else:
            print(f"{args.pods} pods, {args.jobs} jobs over them (one shared watch), {expected} targets")
        print(f"initial discovery: all targets after {settle:.2f} s; CPU {cpu0:.2f} s; RSS {rss0:.0f} MiB")
        # Churn: RATE updates per second.
        t0 = time.monotonic()
        gen = 0
        while time.monotonic() - t0 < args.churn:
            gen += 1
            for k in range(args.rate):
                api.update((gen * args.rate + k) % args.pods, gen)
            time.sleep(1)
        cpu1, rss1 = cpu_seconds(proc.pid), rss_mib(proc.pid)
        print(f"churn: {args.rate} pod updates/s for {args.churn} s: CPU {(cpu1 - cpu0) / args.churn:.3f} s per s "
              f"(scrapes of the closed port included); RSS {rss1:.0f} MiB")
        # Latency of one label change reaching the targets.
        marker = "bench-latency"
        i = 7
        p = pod(i, 0)
        p["metadata"]["labels"]["app"] = marker
        with api.lock:
            t1 = api.publish("pods", "MODIFIED", p)
        while True:
            ts = targets(url)
            if not any(t["discoveredLabels"].get("__meta_kubernetes_pod_name") == "pod-00007" for t in ts):
                break
            time.sleep(0.02)
        print(f"a pod update reached the target set in {(time.monotonic() - t1) * 1000:.0f} ms")
        if args.monitors:
            # One more PodMonitor (over app-0's pods): created to its targets existing.
            with api.lock:
                t2 = api.publish("podmonitors", "ADDED", pod_monitor(0, 0, name="monitor-new"))
            job = f"podMonitor/{namespace(0)}/monitor-new/0"
            while not any(t["scrapePool"] == job for t in targets(url)):
                time.sleep(0.02)
            print(f"a new PodMonitor's targets existed {(time.monotonic() - t2) * 1000:.0f} ms after it was created "
                  f"(RSS {rss_mib(proc.pid):.0f} MiB)")
    finally:
        proc.kill()


if __name__ == "__main__":
    main()
