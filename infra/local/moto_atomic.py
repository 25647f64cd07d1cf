"""moto's S3 server with atomic conditional writes.

moto (5.2) checks `If-None-Match: *` and then stores the object in two steps without a lock,
while its server handles requests on concurrent threads: two create-only PUTs of one key can
both succeed (seen as two manifest commits at one seq, about once in 800 contended commits on a
loaded two-core machine). AWS S3 and MinIO make that check atomic. This launcher serves moto's
own application and lets one mutating request (PUT, POST, DELETE) run at a time, so that the
check and the write are atomic as on AWS; reads stay concurrent.

    python3 infra/local/moto_atomic.py [-H HOST] [-p PORT]
"""

import argparse
import signal
import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

_MUTATING = {"PUT", "POST", "DELETE"}


def atomic(app):
    lock = threading.Lock()

    def serve(environ, start_response):
        if environ.get("REQUEST_METHOD") not in _MUTATING:
            return app(environ, start_response)
        with lock:
            # Drain the response inside the lock: moto does its work lazily in some paths.
            return list(app(environ, start_response))

    return serve


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    run_simple(
        args.host,
        args.port,
        atomic(DomainDispatcherApplication(create_backend_app)),
        threaded=True,
    )


if __name__ == "__main__":
    main()
