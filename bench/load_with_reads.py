"""Sustained ingest while the overview is polled every second: do reads stay within target, and
does any request fail? Writes the "Load with reads" section of docs/PERFORMANCE.md.

    python -m bench.load_with_reads [--events 200000] [--seconds 60] [--clients 4] [--workers N]

The database `bench_load_with_reads` holds `--events` events over 30 days, loaded by bench.load
(reused when loaded before with the same size, loader and migrations). One gunicorn with the
deploy config (clickpost_monitor/gunicorn.conf.py, WEB_CONCURRENCY `--workers`) serves both
the shippers and the dashboard, as in production. Two phases on that server:

1. idle: the dashboard alone for `--idle-seconds`: the baseline;
2. loaded: `--clients` shipper threads post gzip NDJSON batches of `--batch` DemoTraffic records
   (distinct event_ids, stamped within the last minutes) back to back for `--seconds`, while
   the dashboard keeps polling.

The dashboard is one thread with a `read` token and a keep-alive connection. Every second it
asks what the overview page shows for its default window (the last 24 h, which the ingest is
writing into): the hourly timeseries by category, the breakdowns by code and by courier, and
the ten newest failures, one request after the other, then sleeps for the rest of the second.

Every answer's status is kept. Target: every poll answers within its 1-second period, and no
request fails (any read other than 200; any ingest answer other than 200, a 429 or 503 being
retried after Retry-After as shippers do, but counted).
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import common, load

DB = "bench_load_with_reads"
DOC = common.ROOT / "docs" / "PERFORMANCE.md"
BEGIN = "<!-- load-with-reads:begin (written by `python -m bench.load_with_reads`) -->"
END = "<!-- load-with-reads:end -->"
POLL_SECONDS = 1.0
OVERVIEW = {
    "timeseries": "/api/v1/stats/timeseries/?interval=hour&group_by=category",
    "breakdown_code": "/api/v1/stats/breakdown/?by=code&limit=10",
    "breakdown_courier": "/api/v1/stats/breakdown/?by=cp_id&limit=10",
    "latest_failures": "/api/v1/events/?errors_only=true&limit=10",
}


class Connection:
    """One keep-alive HTTP connection that reconnects when the server closed it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def request(self, method: str, path: str, body: bytes | None, headers: dict) -> tuple:
        for attempt in range(2):
            try:
                started = time.perf_counter()
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                payload = response.read()
                elapsed_ms = (time.perf_counter() - started) * 1000
                return response.status, response.getheader("Retry-After"), payload, elapsed_ms
            except (OSError, http.client.HTTPException):
                self.conn.close()  # gunicorn's sync workers close after each answer
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                if attempt:
                    return "connection error", None, b"", 0.0
        raise AssertionError("unreachable")


class Dashboard(threading.Thread):
    """Polls the overview's API calls every second; keeps each call's time and status."""

    def __init__(self, port: int, token: str) -> None:
        super().__init__(daemon=True)
        self.conn = Connection(port)
        self.headers = {"Authorization": f"Bearer {token}"}
        self.phase = "idle"
        self.stopped = threading.Event()
        self.times: dict[str, dict[str, list[float]]] = {}
        self.polls: dict[str, list[float]] = {}
        self.failures: list[str] = []

    def run(self) -> None:
        while not self.stopped.is_set():
            phase, started = self.phase, time.perf_counter()
            for key, path in OVERVIEW.items():
                status, _, body, ms = self.conn.request("GET", path, None, self.headers)
                self.times.setdefault(phase, {}).setdefault(key, []).append(ms)
                if status != 200:
                    self.failures.append(f"{phase} GET {path}: {status} {body[:200]!r}")
            took = time.perf_counter() - started
            self.polls.setdefault(phase, []).append(took * 1000)
            self.stopped.wait(max(0.0, POLL_SECONDS - took))


def encode_batches(*, count: int, size: int, seed: int) -> list[bytes]:
    """`count` gzip NDJSON bodies of `size` distinct DemoTraffic records from the last minutes."""
    from ingest.demo import DemoTraffic

    now = datetime.now(UTC)
    traffic = DemoTraffic(now=now, days=1, per_day=count * size, seed=seed)
    bodies = []
    for n in range(count):
        at = now - timedelta(minutes=10) + timedelta(seconds=n * 600 / count)
        records = [{**traffic.record(at), "event_id": uuid.uuid4().hex} for _ in range(size)]
        ndjson = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
        bodies.append(gzip.compress(ndjson.encode(), 6))
    return bodies


class Shippers:
    """Threads posting the pre-encoded batches back to back until told to stop."""

    def __init__(self, port: int, token: str, bodies: list[bytes], clients: int) -> None:
        self.port, self.bodies = port, bodies
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/x-ndjson",
            "Content-Encoding": "gzip",
        }
        self.next_body = iter(range(len(bodies)))
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.accepted = 0
        self.statuses: Counter = Counter()
        self.failures: list[str] = []
        self.threads = [threading.Thread(target=self._ship, daemon=True) for _ in range(clients)]

    def _take(self) -> int | None:
        with self.lock:
            return next(self.next_body, None)

    def _ship(self) -> None:
        conn = Connection(self.port)
        while not self.stopped.is_set() and (index := self._take()) is not None:
            for _ in range(20):
                status, retry_after, body, _ = conn.request(
                    "POST", "/api/v1/events/", self.bodies[index], self.headers
                )
                with self.lock:
                    self.statuses[status] += 1
                if status == 200:
                    with self.lock:
                        self.accepted += json.loads(body)["accepted"]
                    break
                self.failures.append(f"POST batch {index}: {status} {body[:200]!r}")
                if status not in (429, 503):
                    break
                time.sleep(min(float(retry_after or 1), 5))

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join()


def _summary(values: list[float]) -> dict:
    return {
        "n": len(values),
        "p50": round(common.percentile(values, 0.5), 1),
        "p95": round(common.percentile(values, 0.95), 1),
        "max": round(max(values), 1),
    }


def measure(args: argparse.Namespace) -> dict:
    machine = common.machine()
    note = None if os.environ.get("BENCH_FRESH") else load.reusable(DB, events=args.events)
    if note is None:
        common.log(f"loading {args.events:,} events into {DB}")
        note = load.load(DB, events=args.events)
    common.log(f"encoding {args.max_batches} batches of {args.batch} events")
    bodies = encode_batches(count=args.max_batches, size=args.batch, seed=args.seed)
    with common.Gunicorn(DB, workers=args.workers, tag="load-with-reads") as server:
        dashboard = Dashboard(server.port, common.create_token(DB, scope="read"))
        shippers = Shippers(
            server.port, common.create_token(DB, scope="ingest"), bodies, args.clients
        )
        dashboard.start()
        common.log(f"idle: the dashboard alone for {args.idle_seconds} s")
        time.sleep(args.idle_seconds)
        dashboard.phase = "loaded"
        common.log(f"loaded: {args.clients} shippers for {args.seconds} s, dashboard polling")
        started = time.perf_counter()
        shippers.start()
        time.sleep(args.seconds)
        shippers.stop()
        ingest_seconds = time.perf_counter() - started
        dashboard.stopped.set()
        dashboard.join()
    return {
        "run": datetime.now(UTC).isoformat(timespec="minutes"),
        "commit": common.git_commit(),
        "machine": machine,
        "database_events": note["events"],
        "workers": args.workers,
        "clients": args.clients,
        "batch": args.batch,
        "seconds": args.seconds,
        "idle_seconds": args.idle_seconds,
        "ran_out_of_batches": shippers.statuses[200] >= len(bodies),
        "ingest": {
            "accepted": shippers.accepted,
            "events_per_second": round(shippers.accepted / ingest_seconds),
            "statuses": {str(k): v for k, v in shippers.statuses.items()},
        },
        "reads_ms": {
            phase: {key: _summary(values) for key, values in per_key.items()}
            for phase, per_key in dashboard.times.items()
        },
        "polls_ms": {phase: _summary(values) for phase, values in dashboard.polls.items()},
        "failures": dashboard.failures + shippers.failures,
    }


def section(result: dict) -> str:
    polls = result["polls_ms"]
    loaded = polls["loaded"]
    within = loaded["max"] <= POLL_SECONDS * 1000
    failed = len(result["failures"])
    machine = result["machine"]
    rows = [
        f"| {key} | {result['reads_ms']['idle'][key]['p50']} | "
        f"{result['reads_ms']['loaded'][key]['p50']} | {result['reads_ms']['loaded'][key]['p95']} "
        f"| {result['reads_ms']['loaded'][key]['max']} |"
        for key in OVERVIEW
    ]
    statuses = ", ".join(f"{k}: {v:,}" for k, v in sorted(result["ingest"]["statuses"].items()))
    lines = [
        "## Load with reads",
        "",
        f"Run: **{result['run']} UTC**, commit `{result['commit']}`, "
        f"`python -m bench.load_with_reads` (bench/load_with_reads.py; its docstring says what "
        f"is timed). Machine: {machine['usable_cores']} of {machine['cores']} cores, load "
        f"average at start {' / '.join(map(str, machine['load_average']))} (shared: figures "
        "are noisy).",
        "",
        f"{result['database_events']:,} events over 30 days already stored; one gunicorn "
        f"(deploy config, {result['workers']} sync workers) serves both: "
        f"{result['clients']} shipper threads post gzip NDJSON batches of {result['batch']} "
        f"events back to back for {result['seconds']} s while the dashboard polls the "
        f"overview's four API calls (default window, the last 24 h) every second; before "
        f"that, {result['idle_seconds']} s of the dashboard alone.",
        "",
        "| overview call (ms) | p50 alone | p50 under ingest | p95 under ingest "
        "| max under ingest |",
        "| --- | --- | --- | --- | --- |",
        *rows,
        f"| **one poll (all four)** | {polls['idle']['p50']} | {loaded['p50']} | "
        f"{loaded['p95']} | {loaded['max']} |",
        "",
        f"Ingest meanwhile: **{result['ingest']['events_per_second']:,} events/s** "
        f"({result['ingest']['accepted']:,} events stored; answers {statuses}).",
        "",
        "| target | measured | verdict |",
        "| --- | --- | --- |",
        f"| every poll answers within its 1 s period under sustained ingest | "
        f"max {loaded['max']} ms over {loaded['n']} polls | **{'met' if within else 'missed'}** |",
        f"| no request fails (reads: 200; ingest: 200, no 429/503/5xx) | "
        f"{failed} failed | **{'met' if not failed else 'missed'}** |",
    ]
    if result["failures"]:
        lines += ["", "Failures (first 10):", ""]
        lines += [f"- `{failure}`" for failure in result["failures"][:10]]
    return "\n".join(lines)


def write(text: str, doc: Path = DOC) -> None:
    """Replace this benchmark's block of `doc` (appended after the rest on the first run)."""
    block = f"{BEGIN}\n{text.rstrip()}\n{END}"
    current = doc.read_text() if doc.exists() else "# Performance\n"
    if BEGIN in current and END in current:
        before, rest = current.split(BEGIN, 1)
        doc.write_text(before + block + rest.split(END, 1)[1])
    else:
        doc.write_text(current.rstrip() + "\n\n" + block + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000, help="stored before the run")
    parser.add_argument("--seconds", type=int, default=60, help="of sustained ingest")
    parser.add_argument("--idle-seconds", type=int, default=15)
    parser.add_argument("--clients", type=int, default=4, help="shipper threads")
    parser.add_argument("--batch", type=int, default=500, help="events per request")
    parser.add_argument("--max-batches", type=int, default=600, help="encoded ahead")
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) * 2 + 1)
    parser.add_argument("--seed", type=int, default=20_261_129)
    args = parser.parse_args()
    result = measure(args)
    common.save("load_with_reads", result)
    write(section(result))
    common.log(f"wrote the 'Load with reads' section of {DOC.relative_to(common.ROOT)}")
    if result["failures"]:
        common.log(f"{len(result['failures'])} requests failed; first: {result['failures'][0]}")


if __name__ == "__main__":
    main()
