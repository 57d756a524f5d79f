"""The app under a real gunicorn, on a free port, against a database of its own.

pytest-django's `live_server` is wsgiref (no chunked bodies) and its test database lives in a
transaction another process cannot see; flushing it after a transactional test would also wipe
the seeded code catalog for the tests that follow. So the server gets a fresh database, made and
migrated here and dropped afterwards, and tests read it with plain SQL (psycopg), counting
independently of the code under test.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import psycopg
from django.conf import settings
from psycopg import sql

from tests.clock import TRAVEL_ENV
from tests.fault.harness import ensure_static_files
from tests.shared import SHIPPERS_DIR  # noqa: F401  (the shippers' tests import it from here)

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60


@dataclass
class LiveApp:
    host: str
    port: int
    env: dict = field(repr=False)
    conninfo: str = field(repr=False)
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def create_token(self, name: str, scopes: str = "ingest") -> str:
        """A new token's secret, made by `manage.py create_token` as an operator would."""
        return self.manage("create_token", name, "--scope", scopes).strip()

    def manage(self, *args: str) -> str:
        """Run a management command against the server's database; its stdout."""
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr}")
        return done.stdout

    def query(self, statement: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(self.conninfo, autocommit=True) as connection:
            return connection.execute(statement, params).fetchall()

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def send_raw(host: str, port: int, head: bytes, body: bytes) -> tuple[int, dict, bytes]:
    """Write a request exactly as given (head ends with a blank line) and read the reply."""
    with socket.create_connection((host, port), timeout=60) as sock:
        sock.sendall(head + body)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


@contextlib.contextmanager
def live_app(tag: str, *, clock: datetime | None = None) -> Iterator[LiveApp]:
    """Make and migrate a database, serve the app on it with gunicorn, drop both at the end.

    With `clock`, the server's Python clock starts there (tests/clock.py: for bytes with fixed
    times in them); the management commands and PostgreSQL keep the real one."""
    params = settings.DATABASES["default"]
    base = params["TEST"].get("NAME") or f"test_{params['NAME']}"
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"{base}_{tag}_{worker}"[:63]
    _recreate_database(params, name)
    workdir = Path(tempfile.mkdtemp(prefix=f"live-{tag}-"))
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(params, name),
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "live-server-test-only-key",
        "WEB_CONCURRENCY": "2",
        "DEBUG": "0",
    }
    server = None
    try:
        port = _free_port()
        app = LiveApp("127.0.0.1", port, env, _conninfo(params, name), workdir / "gunicorn.log")
        app.manage("migrate", "--noinput", "-v0")
        ensure_static_files(env)  # with DEBUG off the server will not start without it
        server = _start_gunicorn(env, port, app.log_path, clock=clock)
        _wait_until_up(app, server)
        yield app
    finally:
        if server is not None:
            _stop(server)
        _drop_database(params, name)
        shutil.rmtree(workdir, ignore_errors=True)


def _start_gunicorn(
    env: dict, port: int, log_path: Path, *, clock: datetime | None
) -> subprocess.Popen:
    runner = ["-m", "gunicorn"]
    if clock:
        runner = ["-m", "tests.travelled", "gunicorn"]
        env = {**env, TRAVEL_ENV: clock.isoformat()}
    command = [
        sys.executable,
        *runner,
        "clickpost_monitor.asgi:application",
        "-c",
        "clickpost_monitor/gunicorn_conf.py",
        "-b",
        f"127.0.0.1:{port}",
        "--no-control-socket",  # gunicorn's default socket path is shared by every instance
    ]
    with log_path.open("wb") as log:
        return subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)


def _wait_until_up(app: LiveApp, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}:\n{app.log_tail()}")
        try:
            with urllib.request.urlopen(f"{app.url}/_cat/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer within {START_TIMEOUT_S} s:\n{app.log_tail()}")


def _stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _conninfo(params: dict, name: str) -> str:
    parts = {
        "host": params["HOST"],
        "port": params["PORT"],
        "user": params["USER"],
        "password": params["PASSWORD"],
        "dbname": name,
    }
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in parts.items() if v})


def _database_url(params: dict, name: str) -> str:
    user = quote(params["USER"] or "", safe="")
    password = quote(params["PASSWORD"] or "", safe="")
    host = params["HOST"] or ""
    port = f":{params['PORT']}" if params["PORT"] else ""
    if host.startswith("/"):  # a Unix socket folder, as the embedded server uses
        return f"postgresql://{user}:{password}@{port}/{name}?host={quote(host, safe='/')}"
    return f"postgresql://{user}:{password}@{host}{port}/{name}"


def _admin(params: dict, statement: sql.Composable) -> None:
    with psycopg.connect(_conninfo(params, "postgres"), autocommit=True) as connection:
        connection.execute(statement)


def _recreate_database(params: dict, name: str) -> None:
    _drop_database(params, name)
    _admin(params, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _drop_database(params: dict, name: str) -> None:
    statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    _admin(params, statement)
