"""`make run`'s processes, side by side and supervised: the web server, the alert evaluator,
the report scheduler, the rollups' folding (ingest.rollups), and on the embedded demo database
(DATABASE_URL unset) the demo's live traffic (demo.trickle).

    python -m clickpost_monitor.run [--bind 127.0.0.1:8000]

The list of processes is `processes()` below, and only there. supervisord (Supervisor, the
process supervisor of the Python world) runs them: a process that dies, however it dies
(`kill -9` too), is logged ("exited: alerts (terminated by SIGKILL; not expected)") and started
again while the others keep serving; one that dies again within `STARTSECS` is retried with a
growing delay (supervisord's backoff: 1 s, 2 s, 3 s, ...). Stopping the launcher (Ctrl-C's
SIGINT, or SIGTERM) stops every process with its whole process group (gunicorn's workers
too), then kills what is left after 10 s; a stop asked for that way exits 0.

Links in notifications follow the address served (ALERTS_BASE_URL, unless set).
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STARTSECS = 3  # a process must stay up this long to count as started (else: backoff)
STARTRETRIES = 1000  # quick failures in a row before supervisord gives a process up


def processes(bind: str) -> dict[str, str]:
    """Name -> command of every process `make run` starts."""
    python = shlex.quote(sys.executable)
    return {
        "web": (
            f"{python} -m gunicorn clickpost_monitor.asgi:application"
            f" -c clickpost_monitor/gunicorn_conf.py -b {bind}"
        ),
        "alerts": f"{python} manage.py run_alerts",  # one leads at a time: any number may run
        "reports": f"{python} manage.py run_reports",  # the weekly report subscriptions
        "rollups": f"{python} manage.py fold_rollups",  # past buckets' stripes into one row
    } | (
        {}
        if os.environ.get("DATABASE_URL")
        else {"demo": f"{python} manage.py demo_trickle"}  # the embedded demo's live traffic
    )


def supervisord_config(bind: str, *, folder: Path) -> str:
    """supervisord's configuration for `processes(bind)`; its files go in `folder`."""
    sections = [
        "[supervisord]",
        # In the foreground supervisord echoes its log to stdout: a log file of its own (not
        # /dev/stdout too) prints each line once.
        "nodaemon=true",
        f"logfile={folder / 'supervisord.log'}",
        "logfile_maxbytes=0",
        "loglevel=info",
        # Run as whoever started `make run`; as root, saying so keeps supervisord's "privileges
        # were not dropped" warning out of a clean start.
        *(["user=root"] if os.getuid() == 0 else []),
        f"pidfile={folder / 'supervisord.pid'}",
        f"childlogdir={folder}",
        "",
    ]
    for name, command in processes(bind).items():
        sections += [
            f"[program:{name}]",
            f"command={command.replace('%', '%%')}",
            f"directory={ROOT}",
            "autostart=true",
            "autorestart=true",
            f"startsecs={STARTSECS}",
            f"startretries={STARTRETRIES}",
            "stopsignal=TERM",
            "stopwaitsecs=10",
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            "stdout_logfile=/dev/stdout",
            "stdout_logfile_maxbytes=0",
            "",
        ]
    return "\n".join(sections)


def base_url(bind: str) -> str:
    """The address links should name: the bound one (a wildcard bind is reached locally)."""
    host, _, port = bind.rpartition(":")
    if host in ("0.0.0.0", "", "[::]"):
        host = "127.0.0.1"
    return f"http://{host}:{port}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Start the web server and the background jobs.")
    parser.add_argument("--bind", default="127.0.0.1:8000")
    args = parser.parse_args(argv)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.setdefault("ALERTS_BASE_URL", base_url(args.bind))
    with tempfile.TemporaryDirectory(prefix="cpm-run-") as folder:
        config = Path(folder) / "supervisord.conf"
        config.write_text(supervisord_config(args.bind, folder=Path(folder)))
        supervisor = subprocess.Popen(
            [sys.executable, "-m", "supervisor.supervisord", "-c", str(config)],
            cwd=ROOT,
            env=env,
        )

        def forward(signum: int, _frame: object) -> None:
            supervisor.send_signal(signum)

        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, forward)
        return supervisor.wait()


if __name__ == "__main__":
    sys.exit(main())
