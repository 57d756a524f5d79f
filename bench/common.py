"""What every benchmark step shares: databases, Django subprocesses, gunicorn, figures on disk.

Databases: the suite only ever creates, migrates and drops databases whose name starts with
`bench_`, on the server the app uses (DATABASE_URL when set, else the embedded PostgreSQL).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
BIN = Path(sys.executable).parent
PREFIX = "bench_"
# The app refuses to start without SECRET_KEY when DATABASE_URL is set (as in production).
SECRET_KEY = "bench-only-secret-key-never-used-for-real-traffic"
# The per-token limiters stay on; their limit is raised so they never refuse a benchmark request.
UNTHROTTLED = "100000000"
# The two trees of a side-by-side command: --base's and this one.
SIDES = ("base", "new")

R = TypeVar("R")


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


# ---------------------------------------------------------------- databases


def server_url() -> str:
    """The app's database URL: DATABASE_URL, else the embedded server (started if needed)."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    from clickpost_monitor.embedded_db import embedded_database_url

    return embedded_database_url(ROOT / ".local" / "pgdata")


def database_url(name: str) -> str:
    """The URL of database `name` on the app's server (only `bench_*` names)."""
    if not name.startswith(PREFIX):
        raise ValueError(f"benchmarks only use databases named {PREFIX}*, not {name!r}")
    parts = urlsplit(server_url())
    return urlunsplit(parts._replace(path="/" + name))


def connect(name: str, *, autocommit: bool = True) -> psycopg.Connection:
    """A plain psycopg connection to a bench database, without the app's statement timeout."""
    return psycopg.connect(database_url(name), autocommit=autocommit)


def _maintenance() -> psycopg.Connection:
    parts = urlsplit(server_url())
    return psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True)


def database_exists(name: str) -> bool:
    database_url(name)  # the name check
    with _maintenance() as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    return row is not None


def recreate_database(name: str, *, root: Path | None = None) -> None:
    """Drop (sessions included) and create an empty `bench_*` database, then migrate it (by
    checkout `root`'s migrations, else this one's)."""
    database_url(name)
    with _maintenance() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    manage(name, "migrate", "--noinput", "-v0", root=root)


def drop_database(name: str) -> None:
    database_url(name)
    with _maintenance() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_note(name: str) -> dict | None:
    """The JSON a loader left as the database's comment (what was loaded, and when)."""
    with _maintenance() as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [name],
        ).fetchone()
    return json.loads(row[0]) if row and row[0] else None


def set_database_note(name: str, note: dict) -> None:
    with _maintenance() as conn:
        text = json.dumps(note).replace("'", "''")
        conn.execute(f"COMMENT ON DATABASE \"{name}\" IS '{text}'")


# ---------------------------------------------------------------- Django processes


def django_env(name: str, **extra: str) -> dict[str, str]:
    """Environment for a Django process (manage.py, gunicorn, a bench step) on `name`."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(name),
        "SECRET_KEY": SECRET_KEY,
        "DJANGO_SETTINGS_MODULE": "clickpost_monitor.settings",
        "INGEST_RATE_PER_MINUTE": UNTHROTTLED,
        "READ_RATE_PER_MINUTE": UNTHROTTLED,
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.pop("DEBUG", None)  # DEBUG off, as deployed (it would also record every query)
    env.update(extra)
    return env


def manage(name: str, *args: str, root: Path | None = None) -> str:
    """Run `manage.py ARGS` on database `name` (in checkout `root` with its own .venv, else
    this one); its stdout, or an error with its stderr."""
    done = subprocess.run(
        [str(root / ".venv" / "bin" / "python") if root else sys.executable, "manage.py", *args],
        cwd=root or ROOT,
        env=django_env(name),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def run_step(module: str, name: str, *args: str) -> None:
    """Run `python -m bench.MODULE ARGS` as a Django process on database `name`."""
    subprocess.run(
        [sys.executable, "-m", f"bench.{module}", *args],
        cwd=ROOT,
        env=django_env(name),
        check=True,
    )


def setup_django() -> None:
    """For a step running in its own process (`run_step`): Django on DATABASE_URL."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clickpost_monitor.settings")
    django.setup()


def create_token(name: str, *, scope: str) -> str:
    """A fresh token with `scope` in database `name`; returns its secret."""
    token_name = f"bench-{scope.replace(',', '-')}-{os.getpid()}-{time.time_ns()}"
    return manage(name, "create_token", token_name, "--scope", scope).strip()


# ---------------------------------------------------------------- gunicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """The app under gunicorn with its deploy config (clickpost_monitor/gunicorn_conf.py),
    on a free local port and database `name`; stopped (by its own pid) on exit."""

    def __init__(self, name: str, *, workers: int, tag: str, root: Path | None = None) -> None:
        self.name, self.workers, self.tag = name, workers, tag
        # `root`: another checkout with its own .venv (bench.reads --baseline), else this one.
        self.root = root or ROOT
        self.bin = root / ".venv" / "bin" if root else BIN
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Gunicorn:
        OUT.mkdir(parents=True, exist_ok=True)
        log_file = (OUT / f"gunicorn-{self.tag}.log").open("wb")
        self.process = subprocess.Popen(
            [
                str(self.bin / "gunicorn"),
                "clickpost_monitor.asgi:application",
                "-c",
                "clickpost_monitor/gunicorn_conf.py",
                "-b",
                f"127.0.0.1:{self.port}",
                "--no-control-socket",  # several servers at once; leave others' socket alone
            ],
            cwd=self.root,
            env=django_env(self.name, WEB_CONCURRENCY=str(self.workers)),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log_file.close()
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {OUT / f'gunicorn-{self.tag}.log'}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/api/v1/events/")
                conn.getresponse().read()
                conn.close()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer within a minute")

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []

    def __exit__(self, *exc: object) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# ---------------------------------------------------------------- figures


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (p50 of an even count is the upper middle value)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def save(step: str, data: dict) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{step}.json"
    path.write_text(json.dumps(data, indent=2, default=str))
    return path


def load(step: str) -> dict | None:
    path = OUT / f"{step}.json"
    return json.loads(path.read_text()) if path.exists() else None


def git_commit() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    commit = git("rev-parse", "--short=12", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return commit + (" (with uncommitted changes)" if dirty else "")


def _meminfo_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return 0.0


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


PG_SETTINGS = (
    "shared_buffers",
    "work_mem",
    "maintenance_work_mem",
    "effective_cache_size",
    "max_wal_size",
    "synchronous_commit",
    "max_parallel_workers_per_gather",
    "jit",
)


def machine() -> dict:
    """Cores, memory, load, PostgreSQL version and settings, date, commit: beside every figure."""
    with _maintenance() as conn:
        version = conn.execute("SELECT version()").fetchone()[0]
        settings = dict(
            conn.execute(
                "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s)",
                [list(PG_SETTINGS)],
            ).fetchall()
        )
    import django
    import gunicorn

    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "cpu": _cpu_model(),
        "memory_gib": round(_meminfo_gib(), 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "postgresql": version,
        "postgresql_settings": settings,
        "python": platform.python_version(),
        "django": django.get_version(),
        "gunicorn": gunicorn.__version__,
        "psycopg": psycopg.__version__,
        "commit": git_commit(),
        "server": "DATABASE_URL" if os.environ.get("DATABASE_URL") else "embedded PostgreSQL",
    }


# ---------------------------------------------------------------- a base tree beside this one


def side_by_side_main(step: str, description: str, run: Callable[..., dict], **counts: int) -> None:
    """A side-by-side command's door: --base (the tree to compare against), then each of
    `counts` as `--<name>` (a whole number, that default), then --batch (events a request);
    saves `run(base, <counts>, batches=...)`, with the load average at the end, as
    bench/out/<step>.json."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--base", type=Path, required=True, help="the tree to compare against")
    for name, default in counts.items():
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--batch", type=int, nargs="+", default=[10, 1000])
    args = vars(parser.parse_args())
    result = run(args.pop("base"), batches=args.pop("batch"), **args)
    result["load_average_end"] = os.getloadavg()
    save(step, result)


def side_by_side(
    batch: int,
    rounds: int,
    measure: Callable[[str, int], R],
    figures: Callable[[list[R]], dict],
) -> dict:
    """`measure(side, n)` of each of SIDES in rounds n = 0 .. rounds - 1, who goes first
    alternating; each side's `figures` of its results (cpu_ms_per_request among them), and the
    new side's CPU a request over the base's (`cpu_ratio_new_to_base`). Logged."""
    seen: dict[str, list[R]] = {side: [] for side in SIDES}
    for n in range(rounds):
        for side in SIDES if n % 2 == 0 else reversed(SIDES):
            seen[side].append(measure(side, n))
    result = {side: figures(results) for side, results in seen.items()}
    result["cpu_ratio_new_to_base"] = round(
        result["new"]["cpu_ms_per_request"] / result["base"]["cpu_ms_per_request"], 3
    )
    log(f"batch {batch}: {json.dumps(result)}")
    return result


def cpu_per_request(cpu_ms: float, batch: int) -> dict[str, float]:
    """CPU milliseconds a request of `batch` events, and microseconds an event, rounded."""
    return {
        "cpu_ms_per_request": round(cpu_ms, 3),
        "cpu_us_per_event": round(cpu_ms * 1000 / batch, 1),
    }
