"""`make run`'s processes, side by side: the web server and the alert evaluator.

    python -m clickpost_monitor.run [--bind 127.0.0.1:8000]

The list of processes is `processes()` below, and only there. honcho (a Python Foreman) runs
them: their output interleaved with a name in front, and when one stops, or the launcher gets
SIGINT (Ctrl-C) or SIGTERM, every other is sent SIGTERM (its whole process group: gunicorn's
workers too), then SIGKILL after 5 s. A stop asked for that way exits 0 (honcho's 130 or 143
would make `make run` end in "Error 143"); a process that stopped by itself is the launcher's
exit status.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def processes(bind: str) -> dict[str, str]:
    """Name -> shell command of every process `make run` starts."""
    python = sys.executable
    return {
        "web": (
            f"{python} -m gunicorn clickpost_monitor.asgi:application"
            f" -c clickpost_monitor/gunicorn_conf.py -b {bind}"
        ),
        "alerts": f"{python} manage.py run_alerts",  # one leads at a time: any number may run
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Start the web server and the alert evaluator.")
    parser.add_argument("--bind", default="127.0.0.1:8000")
    args = parser.parse_args(argv)

    from honcho.manager import SIGNALS, Manager

    manager = Manager()
    for name, command in processes(args.bind).items():
        manager.add_process(name, command, cwd=str(ROOT))
    manager.loop()
    if manager.returncode in {signal["rc"] for signal in SIGNALS.values()}:
        return 0  # stopped as asked (Ctrl-C, SIGTERM)
    return manager.returncode or 0


if __name__ == "__main__":
    sys.exit(main())
