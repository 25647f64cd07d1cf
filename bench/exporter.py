"""A synthetic exporter for bench/scrape.sh: TARGETS node_exporter-shaped bodies of SERIES
series each (metric families of 100 series, three labels, counters), served at
/metrics?t=<target>; values advance on every request.

    python3 bench/exporter.py PORT TARGETS SERIES
"""
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

PORT, TARGETS, SERIES = (int(a) for a in sys.argv[1:4])
MODES = ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"]


def lines():
    out = []
    for f in range((SERIES + 99) // 100):
        name = f"node_subsystem_{f}_seconds_total"
        out.append((f"# HELP {name} Seconds the subsystem spent in each mode.\n# TYPE {name} counter\n", None))
        for i in range(100):
            out.append((f'{name}{{cpu="{i // 8}",device="nvme{f % 4}n1",mode="{MODES[i % 8]}"}} ', 1234.5 + 17.25 * i))
    return out


TEMPLATE = lines()
COUNTER = [0]
LOCK = threading.Lock()


def body():
    with LOCK:
        COUNTER[0] += 1
        n = COUNTER[0]
    parts = []
    for text, value in TEMPLATE:
        parts.append(text if value is None else f"{text}{value + n}\n")
    return "".join(parts).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        target = parse_qs(urlparse(self.path).query).get("t", ["0"])[0]
        if not target.isdigit() or int(target) >= TARGETS:
            self.send_error(404)
            return
        data = body()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the scraper went away (stopped between measurements)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
