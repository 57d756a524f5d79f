"""gunicorn settings for 2 cores (README: "Deploying"; docs/RELIABILITY.md: "Slow clients").

gunicorn's asyncio worker ("asgi", with a deadline on a new connection's request head:
clickpost_monitor/header_deadline.py) serving clickpost_monitor.asgi: each worker reads every
connection in its event loop and the app receives only whole requests (BufferedApp), so slow
clients (a header byte every few seconds, a trickled upload) cost an idle socket each, for at
most REQUEST_HEADER_SECONDS or REQUEST_BODY_SECONDS, instead of a worker. The sync workers
before could be held by five such clients; the figures are in docs/RELIABILITY.md. Ingest is
CPU-bound validation plus one database round trip, so 2 x cores + 1 workers keep both cores
busy while one waits on PostgreSQL; each runs the app on WEB_THREADS threads (settings.py).
"""

import multiprocessing
import os
import sys

workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
# The WSGI entry point cannot run on the asyncio worker: started with it (an older command
# line), gunicorn falls back to the sync workers, which slow clients can hold; say so.
SERVES_WSGI = any(arg.startswith("clickpost_monitor.wsgi") for arg in sys.argv[1:])
# gunicorn's "asgi" worker, with a deadline on a new connection's request head
# (REQUEST_HEADER_SECONDS; clickpost_monitor/header_deadline.py), answering what its HTTP
# parser refuses (a malformed chunked body) in JSON (clickpost_monitor/server.py).
worker_class = "sync" if SERVES_WSGI else "clickpost_monitor.server.Worker"
if SERVES_WSGI:
    print(
        "gunicorn_conf.py: clickpost_monitor.wsgi runs on sync workers, which slow clients can "
        "hold; serve clickpost_monitor.asgi:application (docs/RELIABILITY.md)",
        file=sys.stderr,
    )
worker_connections = 1000  # open connections per worker, idle and slow ones included
asgi_lifespan = "off"  # nothing to start or stop per worker
# libuv's event loop (a dependency): 0.90x the worker CPU of a 10-event request against
# asyncio's own, side by side (docs/PERFORMANCE.md). gunicorn falls back to asyncio, and says
# so, where uvloop is missing.
asgi_loop = "uvloop"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = 20
keepalive = 5
limit_request_line = 8190
limit_request_fields = 100
max_requests = 5000  # recycle workers now and then: bounded memory over weeks
max_requests_jitter = 500
accesslog = "-"
preload_app = False
# gunicorn 27's control socket lives at a per-user default path that every instance on the
# machine would share; we don't use it.
control_socket_disable = True
# No token in any log line: the Logz.io door's token comes in the query string (SPEC).
logger_class = "clickpost_monitor.access_log.RedactingLogger"


def post_worker_init(worker) -> None:
    """The app is loaded: what it made so far lives as long as the worker, so the collector
    stops scanning it (gc.freeze), and collects the young generation every 10,000 new objects
    instead of 700 (a 1,000-event batch makes ~100 k short-lived ones: a collection every ~7
    events, each walking what survived). docs/PERFORMANCE.md has the figures."""
    import gc

    gc.freeze()
    gc.set_threshold(10_000, 20, 20)
