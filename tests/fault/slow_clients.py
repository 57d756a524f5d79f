"""Slow clients (slowloris and slow uploads) against a server on loopback, and probes that
measure whether everyone else is still served.

Shared by `tests/fault/test_slow_clients.py` and `bench/slow_clients.py`. Everything is bounded:
a fixed number of connections, held for a fixed time, to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import requests


@dataclass
class ProbeResults:
    """Outcome of each probe: its HTTP status, or the exception's name (a timeout, say)."""

    outcomes: dict[str, list[int | str]] = field(default_factory=dict)
    seconds: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, outcome: int | str, elapsed: float) -> None:
        self.outcomes.setdefault(name, []).append(outcome)
        self.seconds.setdefault(name, []).append(elapsed)

    def failures(self, name: str, expected: int) -> list[int | str]:
        return [o for o in self.outcomes.get(name, []) if o != expected]

    def summary(self, name: str, expected: int) -> str:
        done = self.outcomes.get(name, [])
        ok = len(done) - len(self.failures(name, expected))
        times = sorted(self.seconds.get(name, [0.0]))
        return (
            f"{name}: {ok}/{len(done)} answered {expected} within the client timeout; "
            f"median {statistics.median(times) * 1000:.0f} ms, max {times[-1] * 1000:.0f} ms"
        )


async def _slow_header_client(port: int, hold_until: float, interval: float) -> None:
    """Sends a request line, then one header byte every `interval` seconds (slowloris)."""
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        await writer.drain()
        while time.monotonic() < hold_until:
            await asyncio.sleep(interval)
            writer.write(b"a")
            await writer.drain()
    finally:
        writer.close()


async def _slow_upload_client(port: int, token: str, hold_until: float, interval: float) -> None:
    """Declares a 1 MB ingest body, then sends a few bytes of it every `interval` seconds."""
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            b"POST /api/v1/events/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + f"Authorization: Bearer {token}\r\n".encode()
            + b"Content-Type: application/x-ndjson\r\nContent-Length: 1000000\r\n\r\n"
        )
        await writer.drain()
        while time.monotonic() < hold_until:
            writer.write(b'{"a": 1}\n')
            await writer.drain()
            await asyncio.sleep(interval)
    finally:
        writer.close()


async def _hold(port: int, token: str, clients: int, seconds: float, interval: float) -> int:
    hold_until = time.monotonic() + seconds
    tasks = []
    for n in range(clients):
        if n % 2:
            tasks.append(_slow_upload_client(port, token, hold_until, interval))
        else:
            tasks.append(_slow_header_client(port, hold_until, interval))
    results = await asyncio.gather(*tasks, return_exceptions=True)
    return sum(1 for r in results if not isinstance(r, BaseException))


def _probe_once(results: ProbeResults, name: str, call) -> None:
    started = time.monotonic()
    try:
        outcome: int | str = call().status_code
    except requests.RequestException as error:
        outcome = type(error).__name__
    results.add(name, outcome, time.monotonic() - started)


def run(
    *,
    base_url: str,
    port: int,
    token: str,
    clients: int = 200,
    seconds: float = 20,
    interval: float = 3,
    probe_timeout: float = 1.0,
    warmup: float = 3,
) -> tuple[ProbeResults, int]:
    """Hold `clients` slow connections (half slow headers, half slow uploads) for `seconds`;
    meanwhile probe the login page and ingest one at a time, each with `probe_timeout`.
    Returns the probe results and how many slow clients kept their connection to the end."""
    held: list[int] = []
    holder = threading.Thread(
        target=lambda: held.append(
            asyncio.run(_hold(port, token, clients, seconds + warmup, interval))
        ),
        daemon=True,
    )
    body = json.dumps(
        {"timestamp": datetime.now(UTC).isoformat(), "endpoint": "order_create", "http_status": 200}
    )
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    # Warm every worker's app threads first (a first request opens a database connection and
    # loads the code catalog): the probes measure slow clients, not a cold start.
    warm = ProbeResults()
    for _ in range(20):
        _probe_once(
            warm, "login page", lambda: requests.get(f"{base_url}/accounts/login/", timeout=10)
        )
        _probe_once(
            warm,
            "ingest",
            lambda: requests.post(
                f"{base_url}/api/v1/events/", data=body, headers=auth, timeout=10
            ),
        )
    holder.start()
    time.sleep(warmup)  # let every slow client connect and start trickling
    results = ProbeResults()
    deadline = time.monotonic() + seconds - 1
    while time.monotonic() < deadline:
        _probe_once(
            results,
            "login page",
            lambda: requests.get(f"{base_url}/accounts/login/", timeout=probe_timeout),
        )
        _probe_once(
            results,
            "ingest",
            lambda: requests.post(
                f"{base_url}/api/v1/events/", data=body, headers=auth, timeout=probe_timeout
            ),
        )
        time.sleep(0.25)
    holder.join(timeout=seconds + warmup + 30)
    return results, (held[0] if held else 0)
