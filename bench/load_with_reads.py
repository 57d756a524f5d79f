"""Sustained ingest while the overview is polled every second: do reads stay within target, and
does any request fail? Writes the "Load with reads" section of docs/PERFORMANCE.md.

    python -m bench.load_with_reads [--events 200000] [--seconds 60] [--rate 1000] [--clients 4]

The database `bench_load_with_reads` holds `--events` events over 30 days, loaded by bench.load
(reused when loaded before with the same size, loader and migrations). One gunicorn with the
deploy config (clickpost_monitor/gunicorn_conf.py, WEB_CONCURRENCY `--workers`) serves both
the shippers and the dashboard, as in production. Three phases on that server:

1. alone: the dashboard alone for `--idle-seconds`: the baseline;
2. paced: `--clients` shipper threads post `--rate` events/s, for `--seconds`;
3. saturated: the same threads post back to back (each sends its next batch as soon as the
   last is answered), as much as the machine takes, for `--seconds`.

Shippers post gzip NDJSON batches of `--batch` DemoTraffic records (distinct event_ids, stamped
within the last minutes; encoded before the run, so the client's work is not the server's).
The dashboard is one thread with a `read` token and a keep-alive connection. Every second it
asks what the overview page shows for its default window (the last 24 h, which the ingest is
writing into): the hourly timeseries by category, the breakdowns by code and by courier, and
the ten newest failures, one request after the other, then sleeps for the rest of the second.

Every answer's status is kept. Targets: every poll answers within its 1-second period; each
overview call's p50 within the suite's read target (50 ms, docs/PERFORMANCE.md) at the paced
rate; no request fails (any read other than 200; any ingest answer other than 200, a 429 or
503 being retried after Retry-After as shippers do, but counted).
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
        self.phase = "alone"
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
    from demo.traffic import DemoTraffic

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
    """Threads posting the pre-encoded batches, at `rate` events/s or back to back (None)."""

    def __init__(self, port: int, token: str, bodies: list[bytes], *, batch: int) -> None:
        self.port, self.bodies, self.batch = port, bodies, batch
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/x-ndjson",
            "Content-Encoding": "gzip",
        }
        self.next_body = iter(range(len(bodies)))  # shared by the phases: each body once
        self.lock = threading.Lock()
        self.failures: list[str] = []

    def run(self, *, clients: int, seconds: float, rate: float | None) -> dict:
        """Ship for `seconds`; the phase's events stored, events/s and answers."""
        stopped, started = threading.Event(), time.perf_counter()
        phase = {"accepted": 0, "batches": 0, "statuses": Counter(), "ran_out": False}

        def ship() -> None:
            conn = Connection(self.port)
            while not stopped.is_set():
                with self.lock:
                    index, sent = next(self.next_body, None), phase["batches"]
                    phase["batches"] += 1
                if index is None:
                    phase["ran_out"] = True
                    return
                if rate:  # batch k leaves at k * batch / rate seconds into the phase
                    stopped.wait(started + sent * self.batch / rate - time.perf_counter())
                self._post(conn, index, phase)

        threads = [threading.Thread(target=ship, daemon=True) for _ in range(clients)]
        for thread in threads:
            thread.start()
        stopped.wait(seconds)
        stopped.set()
        for thread in threads:
            thread.join()
        took = time.perf_counter() - started
        return {
            "rate_asked": rate,
            "accepted": phase["accepted"],
            "events_per_second": round(phase["accepted"] / took),
            "statuses": {str(k): v for k, v in phase["statuses"].items()},
            "ran_out_of_batches": phase["ran_out"],
        }

    def _post(self, conn: Connection, index: int, phase: dict) -> None:
        for _ in range(20):
            status, retry_after, body, _ = conn.request(
                "POST", "/api/v1/events/", self.bodies[index], self.headers
            )
            with self.lock:
                phase["statuses"][status] += 1
                if status == 200:
                    phase["accepted"] += json.loads(body)["accepted"]
                    return
                self.failures.append(f"POST batch {index}: {status} {body[:200]!r}")
            if status not in (429, 503):
                return
            time.sleep(min(float(retry_after or 1), 5))


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
        ingest_token = common.create_token(DB, scope="ingest")
        shippers = Shippers(server.port, ingest_token, bodies, batch=args.batch)
        dashboard.phase = "alone"
        dashboard.start()
        common.log(f"alone: the dashboard alone for {args.idle_seconds} s")
        time.sleep(args.idle_seconds)
        ingest = {}
        for phase, rate in (("paced", args.rate), ("saturated", None)):
            common.log(f"{phase}: {args.clients} shippers for {args.seconds} s, dashboard polling")
            dashboard.phase = phase
            ingest[phase] = shippers.run(clients=args.clients, seconds=args.seconds, rate=rate)
        dashboard.stopped.set()
        dashboard.join()
    return {
        "run": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "commit": common.git_commit(),
        "machine": machine,
        "database_events": note["events"],
        "workers": args.workers,
        "clients": args.clients,
        "batch": args.batch,
        "seconds": args.seconds,
        "idle_seconds": args.idle_seconds,
        "ingest": ingest,
        "reads_ms": {
            phase: {key: _summary(values) for key, values in per_key.items()}
            for phase, per_key in dashboard.times.items()
        },
        "polls_ms": {phase: _summary(values) for phase, values in dashboard.polls.items()},
        "failures": dashboard.failures + shippers.failures,
    }


def _verdict(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def section(result: dict) -> str:
    reads, polls, ingest = result["reads_ms"], result["polls_ms"], result["ingest"]
    phases = ("alone", "paced", "saturated")
    machine = result["machine"]
    rows = [
        f"| {key} | "
        + " | ".join(f"{reads[p][key]['p50']} / {reads[p][key]['p95']}" for p in phases)
        + f" | {reads['saturated'][key]['max']} |"
        for key in OVERVIEW
    ]
    polls_row = (
        "| **one poll (all four)** | "
        + " | ".join(f"{polls[p]['p50']} / {polls[p]['p95']}" for p in phases)
        + f" | {polls['saturated']['max']} |"
    )
    slowest_p50 = max(reads["paced"][key]["p50"] for key in OVERVIEW)
    slowest_poll = max(polls[p]["max"] for p in ("paced", "saturated"))
    n_polls = sum(polls[p]["n"] for p in ("paced", "saturated"))
    failed = len(result["failures"])
    rate = ingest["paced"]["rate_asked"]

    def answers(phase: str) -> str:
        return ", ".join(f"{k}: {v:,}" for k, v in sorted(ingest[phase]["statuses"].items()))

    lines = [
        "## Load with reads",
        "",
        f"Run: **{result['run']} UTC**, commit `{result['commit']}`, "
        "`python -m bench.load_with_reads` (bench/load_with_reads.py; its docstring says what "
        f"is timed). Machine: {machine['usable_cores']} of {machine['cores']} cores, load "
        f"average at start {' / '.join(map(str, machine['load_average']))} (shared: figures "
        "are noisy).",
        "",
        f"{result['database_events']:,} events over 30 days already stored; one gunicorn "
        f"(deploy config, {result['workers']} sync workers) serves shippers and dashboard alike. "
        f"The dashboard polls the overview's four API calls (default window: the last 24 h, "
        f"which the ingest writes into) every second: {result['idle_seconds']} s alone, then "
        f"{result['seconds']} s while {result['clients']} shipper threads post gzip NDJSON "
        f"batches of {result['batch']} events at {rate:,.0f} events/s (paced), then "
        f"{result['seconds']} s while they post back to back (saturated).",
        "",
        "| overview call, ms p50 / p95 | alone | paced ingest | saturated ingest "
        "| max, saturated |",
        "| --- | --- | --- | --- | --- |",
        *rows,
        polls_row,
        "",
        f"Ingest meanwhile: paced **{ingest['paced']['events_per_second']:,} events/s** "
        f"({ingest['paced']['accepted']:,} stored; answers {answers('paced')}); saturated "
        f"**{ingest['saturated']['events_per_second']:,} events/s** "
        f"({ingest['saturated']['accepted']:,} stored; answers {answers('saturated')})"
        + (
            " (ran out of encoded batches before the end)"
            if any(ingest[p]["ran_out_of_batches"] for p in ingest)
            else ""
        )
        + ".",
        "",
        "| target | measured | verdict |",
        "| --- | --- | --- |",
        f"| every poll of the overview answers within its 1 s period, under ingest | slowest "
        f"{slowest_poll} ms of {n_polls} polls | {_verdict(slowest_poll <= POLL_SECONDS * 1000)} |",
        f"| each overview call p50 ≤ 50 ms (the suite's read target) under {rate:,.0f} events/s "
        f"| slowest p50 {slowest_p50} ms | {_verdict(slowest_p50 <= 50)} |",
        f"| no request fails (reads 200; ingest 200, no 429/503/5xx) | {failed} failed "
        f"| {_verdict(not failed)} |",
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
    parser.add_argument("--rate", type=float, default=1000, help="events/s, paced phase")
    parser.add_argument("--clients", type=int, default=4, help="shipper threads")
    parser.add_argument("--batch", type=int, default=500, help="events per request")
    parser.add_argument("--max-batches", type=int, default=1000, help="encoded ahead")
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
