"""gunicorn settings for 2 cores (README: "Deploying").

Sync workers: ingest is CPU-bound validation plus one database round trip, so 2 x cores + 1
workers keep both cores busy while one waits on PostgreSQL. A worker silent for `timeout`
seconds is killed and replaced; a slow client (slowloris) is bounded by `timeout` too, and
nginx or another buffering proxy in front is still advised on the open internet.
"""

import multiprocessing
import os

workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
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
