"""Reads at scale: the overview's API queries, the drill-down and the weekly CSV, timed over HTTP
against gunicorn on two loaded databases at once (e.g. 1 M and 10 M events), so that the
ratio of the two is measured in the same minutes on the same noisy machine.

    python -m bench.reads --db bench_1m --db bench_10m [--runs 20] [--workers 5]
    python -m bench.reads --db bench_1m --baseline /tmp/base   (old and new code, same rounds)

- Requests go over HTTP (one client, one request at a time), with a `read` token,
  as a user's browser or script would see them; the time is from sending the request to the
  last byte of the answer. Each path is asked `--warmup` times first, then `--runs` rounds;
  each round asks every path of every database in turn. Medians (p50) and p90 are reported.
- The window is the loaded 30 days (start and end given explicitly, as a page does for 30 d).
- The overview page itself (`/`, HTML with all of its queries, with a session) is timed too;
  the issue sets no target for it, but it is what an operator waits for.
- The weekly CSV's peak memory: `manage.py export_weekly_report` (the same streaming code as
  the API) run in a subprocess, its peak RSS read from `wait4()`; beside it the same command
  for a week without data, the floor of a Django process.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from bench import common

NEWLINE = b"\n"
SESSION_SCRIPT = """
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
User = get_user_model()
user, _ = User.objects.get_or_create(username="bench-reader", defaults={"is_staff": False})
store = SessionStore()
store[SESSION_KEY] = str(user.pk)
store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
store[HASH_SESSION_KEY] = user.get_session_auth_hash()
store.create()
print(store.session_key)
"""


def paths(note: dict) -> dict[str, dict]:
    """What is timed and explained, built from what the loader put in the database."""
    window = {"start": note["begin"], "end": note["end"]}
    drill = note["drill"]
    return {
        "timeseries": {
            "label": "overview: timeseries 30 d, hourly, by category",
            "path": "/api/v1/stats/timeseries/?"
            + urlencode({"interval": "hour", "group_by": "category", **window}),
            "target": "overview",
        },
        "breakdown_code": {
            "label": "overview: breakdown by code, 30 d",
            "path": "/api/v1/stats/breakdown/?" + urlencode({"by": "code", **window}),
            "target": "overview",
        },
        "breakdown_courier": {
            "label": "overview: breakdown by courier, 30 d",
            "path": "/api/v1/stats/breakdown/?" + urlencode({"by": "cp_id", **window}),
            "target": "overview",
        },
        "drilldown": {
            "label": f"drill-down: 50 newest failures of code {drill['code']} in one hour",
            "path": "/api/v1/events/?"
            + urlencode(
                {
                    "errors_only": "true",
                    "code": drill["code"],
                    "start": drill["start"],
                    "end": drill["end"],
                    "limit": 50,
                }
            ),
            "target": "drilldown",
        },
        "weekly_csv": {
            "label": f"weekly CSV ({note['week']})",
            "path": "/api/v1/reports/weekly/?" + urlencode({"week": note["week"]}),
            "target": "csv",
        },
        "overview_page": {
            "label": "overview page (HTML), 30 d",
            "path": "/?" + urlencode(window),
            "target": None,
            "session": True,
        },
    }


class Reader:
    """One HTTP client of one gunicorn, with a read token and a session (gunicorn's sync
    workers close the connection after each answer; http.client opens the next one)."""

    def __init__(self, server: common.Gunicorn, *, token: str, session: str) -> None:
        self.server, self.token, self.session = server, token, session
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)

    def get(self, path: str, *, session: bool = False) -> tuple[float, int, bytes]:
        headers = (
            {"Cookie": f"sessionid={self.session}"}
            if session
            else {"Authorization": f"Bearer {self.token}"}
        )
        for _ in range(2):
            try:
                started = time.perf_counter()
                self.conn.request("GET", path, headers=headers)
                response = self.conn.getresponse()
                body = response.read()
                return time.perf_counter() - started, response.status, body
            except (OSError, http.client.HTTPException):
                self.conn.close()  # the server closed the connection early
                self.conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=300)
        raise RuntimeError(f"GET {path} failed twice")


def _check(key: str, status: int, body: bytes, note: dict) -> str:
    """A sanity check of the answer (the figures are worth nothing if the answer is wrong)."""
    if status != 200:
        return f"HTTP {status}: {body[:200]!r}"
    if key == "timeseries":
        total = sum(point["events"] for point in json.loads(body)["totals"])
        return "ok" if total == note["stored"] else f"totals count {total}, stored {note['stored']}"
    if key == "drilldown":
        return f"ok ({len(json.loads(body)['results'])} rows)"
    if key == "weekly_csv":
        return f"ok ({body.count(NEWLINE) - 1} rows, {len(body):,} bytes)"
    if key.startswith("breakdown"):
        answer = json.loads(body)
        rows = answer.get("rows", []) if isinstance(answer, dict) else answer
        return f"ok ({len(rows)} rows)"
    return "ok"


def csv_peak_rss(name: str, week: str, *, runs: int = 3) -> list[float]:
    """Peak RSS (MiB) of `export_weekly_report --week WEEK` on `name`, once per run."""
    peaks = []
    for _ in range(runs):
        process = subprocess.Popen(
            [sys.executable, "manage.py", "export_weekly_report", "--week", week],
            cwd=common.ROOT,
            env=common.django_env(name),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            raise RuntimeError(f"export_weekly_report failed: {process.stderr.read()[-2000:]!r}")
        process.stderr.close()
        peaks.append(round(usage.ru_maxrss / 1024, 1))  # KiB on Linux
    return peaks


def _empty_week(note: dict) -> str:
    before = datetime.fromisoformat(note["begin"]) - timedelta(weeks=10)
    year, week, _ = before.isocalendar()
    return f"{year}-W{week:02d}"


def targets(names: list[str], baseline: Path | None) -> dict[str, tuple[str, Path | None]]:
    """label -> (database, checkout): each database served by this checkout, and with
    `--baseline` also by that one (e.g. the commit before a change) on the same database, so
    that old and new are timed in the same rounds."""
    served: dict[str, tuple[str, Path | None]] = {}
    for name in names:
        served[name] = (name, None)
        if baseline is not None:
            served[f"{name} (baseline)"] = (name, baseline)
    return served


def run(
    names: list[str], *, runs: int, warmup: int, workers: int, baseline: Path | None = None
) -> dict:
    notes = {name: common.database_note(name) for name in names}
    planned = paths(notes[names[0]])
    served = targets(names, baseline)
    timings: dict[str, dict[str, list[float]]] = {k: {t: [] for t in served} for k in planned}
    checks: dict[str, dict[str, str]] = {k: {} for k in planned}
    servers = {
        label: common.Gunicorn(name, workers=workers, tag=f"reads-{n}", root=root)
        for n, (label, (name, root)) in enumerate(served.items())
    }
    readers = {}
    try:
        for label, server in servers.items():
            server.__enter__()
            name = served[label][0]
            token = common.create_token(name, scope="read")
            session = common.manage(name, "shell", "-c", SESSION_SCRIPT).split()[-1]
            readers[label] = Reader(server, token=token, session=session)
        own = {name: paths(notes[name]) for name in names}
        for round_no in range(warmup + runs):
            # Who goes first alternates: the second to ask the same question finds the
            # database's caches warm, which would favour one side every round.
            order = list(served.items())[:: -1 if round_no % 2 else 1]
            for key in planned:
                for label, (name, _) in order:
                    spec = own[name][key]
                    seconds, status, body = readers[label].get(
                        spec["path"], session=spec.get("session", False)
                    )
                    if round_no == 0:
                        checks[key][label] = _check(key, status, body, notes[name])
                    if round_no >= warmup and status == 200:
                        timings[key][label].append(seconds * 1000)
    finally:
        for server in servers.values():
            server.__exit__(None, None, None)
    memory = {}
    for name in names:
        memory[name] = {
            "peak_mib": csv_peak_rss(name, notes[name]["week"]),
            "empty_week_peak_mib": csv_peak_rss(name, _empty_week(notes[name]), runs=1),
        }
    return {
        "databases": {name: notes[name] for name in names},
        "baseline": str(baseline) if baseline else None,
        "runs": runs,
        "warmup": warmup,
        "workers": workers,
        "paths": {k: {kk: vv for kk, vv in v.items() if kk != "path"} for k, v in planned.items()},
        "example_paths": {k: own[names[-1]][k]["path"] for k in planned},
        "checks": checks,
        "timings_ms": {
            key: {label: _summary(values) for label, values in per_target.items()}
            for key, per_target in timings.items()
        },
        "csv_memory": memory,
        "paired_ratios": _paired_ratios(timings, served),
    }


def _paired_ratios(
    timings: dict[str, dict[str, list[float]]], served: dict[str, tuple[str, Path | None]]
) -> dict[str, dict[str, float]]:
    """With --baseline: per path, the median over rounds of (this checkout's time / the
    baseline's time in the same round). Paired by round, it is steadier than a ratio of two
    medians on a machine whose load drifts during the run."""
    ratios: dict[str, dict[str, float]] = {}
    for key, per_target in timings.items():
        for label, (name, root) in served.items():
            base = per_target.get(f"{name} (baseline)")
            if root is not None or not base or len(base) != len(per_target[label]):
                continue
            pairs = [new / old for new, old in zip(per_target[label], base, strict=True)]
            ratios.setdefault(key, {})[name] = round(common.median(pairs), 3)
    return ratios


def _summary(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": round(common.percentile(values, 0.5), 2),
        "p90": round(common.percentile(values, 0.9), 2),
        "min": round(min(values), 2),
        "max": round(max(values), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", action="append", required=True)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--workers", type=int, default=5)
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another checkout (with its own .venv), e.g. a worktree of the commit before a "
        "change, served beside this one on the same databases and timed in the same rounds",
    )
    args = parser.parse_args()
    result = run(
        args.db, runs=args.runs, warmup=args.warmup, workers=args.workers, baseline=args.baseline
    )
    common.save("reads", result)
    for key, per_db in result["timings_ms"].items():
        figures = ", ".join(f"{name} p50 {s.get('p50', 'n/a')} ms" for name, s in per_db.items())
        common.log(f"reads {key}: {figures}; {result['checks'][key]}")
    for key, per_db in result["paired_ratios"].items():
        common.log(f"reads {key}: this / baseline, median of paired rounds: {per_db}")
    for name, mem in result["csv_memory"].items():
        common.log(f"weekly CSV peak RSS on {name}: {mem}")


if __name__ == "__main__":
    main()
