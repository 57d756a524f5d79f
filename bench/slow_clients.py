"""Slow clients against the deployed server, before/after figures for docs/RELIABILITY.md.

    python -m bench.slow_clients [--clients 200] [--seconds 20] [--worker-class sync|asgi]

Starts a throwaway embedded PostgreSQL and gunicorn with clickpost_monitor/gunicorn_conf.py
(5 workers, as on 2 cores), holds the slow clients (half trickle header bytes, half trickle an
ingest body) and probes the login page and ingest with a 1 s client timeout meanwhile.
`--app clickpost_monitor.wsgi` is the deployment before the fix (sync workers).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from tests.fault import slow_clients
from tests.fault.harness import Database, Gunicorn, app_env, manage

MAKE_TOKEN = (
    "from tokens.auth import create_token; "
    "print(create_token(name='slow-bench', scopes=['ingest'])[1])"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--interval", type=float, default=3)
    parser.add_argument("--workers", default="5")
    parser.add_argument("--worker-class", default=None)
    parser.add_argument("--app", default=None)
    args = parser.parse_args()
    database = Database()
    try:
        env = app_env(database.url, WEB_CONCURRENCY=args.workers, INGEST_RATE_PER_MINUTE="1000000")
        manage(env, "migrate", "--noinput", "-v0")
        token = manage(env, "shell", "--no-imports", "-c", MAKE_TOKEN).strip()
        extra = ["--worker-class", args.worker_class] if args.worker_class else []
        log = Path(tempfile.mkdtemp(prefix="cpm-slow-")) / "gunicorn.log"
        server = Gunicorn(env, log, *extra, app=args.app)
        try:
            results, held = slow_clients.run(
                base_url=server.url,
                port=server.port,
                token=token,
                clients=args.clients,
                seconds=args.seconds,
                interval=args.interval,
            )
        finally:
            server.stop()
        label = f"{args.worker_class or 'default'} / {args.app or 'default app'}"
        print(f"{label}: {args.clients} slow clients for {args.seconds:.0f} s, {held} held on")
        print(" ", results.summary("login page", 200))
        print(" ", results.summary("ingest", 200))
        print(json.dumps(results.outcomes)[:400])
    finally:
        database.remove()


if __name__ == "__main__":
    main()
