"""Abuse limits at the edge of ingest, through gunicorn as deployed: the per-token rate limit
holds across workers, a body too large is refused before (or while) it is read, a client that
stops sending holds no worker, and its connection only until REQUEST_BODY_SECONDS, and one that
trickles its request head only until REQUEST_HEADER_SECONDS."""

from __future__ import annotations

import gzip
import json
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.fault.harness import Gunicorn, app_env, manage, wait_for

pytestmark = pytest.mark.slow

RATE_PER_MINUTE = 5
MAX_BYTES = 100_000
WORKER_TIMEOUT_SECONDS = 5
BODY_SECONDS = 2
HEADER_SECONDS = 2
TOKENS = ("rate", "rate-other", "size", "slow")
MAKE_TOKENS = (
    "import json; from tokens.auth import create_token; "
    f"print(json.dumps({{n: create_token(name=n, scopes=['ingest'])[1] for n in {TOKENS!r}}}))"
)


@dataclass
class Edge:
    server: Gunicorn
    tokens: dict[str, str]
    database: object

    def post(self, token: str, body: bytes | Iterator[bytes], probe: str = "", **headers: str):
        return requests.post(
            f"{self.server.url}/api/v1/events/?{probe}",
            data=body,
            headers={"Authorization": f"Bearer {self.tokens[token]}", **headers},
            timeout=60,
        )

    def stored(self, prefix: str) -> int:
        rows = self.database.query(
            f"SELECT count(*) FROM ingest_event WHERE event_key LIKE 'id:{prefix}%'"
        )
        return rows[0][0]


@pytest.fixture(scope="module")
def edge(fault_db, tmp_path_factory):
    env = app_env(
        fault_db.url,
        INGEST_RATE_PER_MINUTE=str(RATE_PER_MINUTE),
        INGEST_MAX_BYTES=str(MAX_BYTES),
        GUNICORN_TIMEOUT=str(WORKER_TIMEOUT_SECONDS),
        REQUEST_BODY_SECONDS=str(BODY_SECONDS),
        REQUEST_HEADER_SECONDS=str(HEADER_SECONDS),
    )
    tokens = json.loads(manage(env, "shell", "--no-imports", "-c", MAKE_TOKENS))
    log = tmp_path_factory.mktemp("edge") / "gunicorn.log"
    server = Gunicorn(env, log, "--access-logformat", "%(p)s %(s)s %(m)s %(q)s")
    try:
        yield Edge(server, tokens, fault_db)
    finally:
        server.stop()


# Inside the retention horizon whatever the date (older events are refused, SPEC).
YESTERDAY_AT_TEN = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT10:00:00Z")


def _ndjson(prefix: str, count: int, *, pad: int = 0) -> bytes:
    lines = (
        json.dumps(
            {
                "event_id": f"{prefix}-{n}",
                "timestamp": YESTERDAY_AT_TEN,
                "endpoint": "order_create",
                "http_status": 503,
                "message": "x" * pad,
            }
        )
        for n in range(count)
    )
    return "\n".join(lines).encode()


def _chunks(body: bytes, size: int = 8192) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def _raw_request(port: int, head: str, body: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sock.sendall(head.encode() + b"\r\n" + body)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    parts = []
    try:
        while chunk := sock.recv(65536):
            parts.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(parts)


def _served_by(server: Gunicorn, probe: str) -> list[str]:
    """The worker pid of each request whose query string is `probe`, from the access log."""
    return re.findall(rf"^<(\d+)> \d+ POST {probe}$", server.log(tail=10**7), flags=re.M)


def test_rate_limit_holds_across_workers(edge):
    statuses = []
    # Post until both workers have served some (the kernel picks one per connection).
    while len(statuses) < 3 * RATE_PER_MINUTE or len(set(_served_by(edge.server, "rate"))) < 2:
        assert len(statuses) < 200, "one worker served every request"
        statuses.append(edge.post("rate", b"", probe="rate").status_code)
        wait_for(lambda: len(_served_by(edge.server, "rate")) == len(statuses), "the access log")

    # Counted once for all workers: a count per worker would let 2 x 5 through.
    assert statuses == [200] * RATE_PER_MINUTE + [429] * (len(statuses) - RATE_PER_MINUTE)
    limited = edge.post("rate", b"")
    assert limited.json()["error"].startswith("Request was throttled")
    assert limited.headers["Retry-After"].isdigit()
    # The limit is the token's, not the client's: another token is not held back.
    assert edge.post("rate-other", b"").status_code == 200


def test_a_declared_length_over_the_limit_is_refused_before_the_body(edge):
    # No body follows: if the server tried to read it, it would wait until the worker timeout.
    sock = _raw_request(
        edge.server.port,
        "POST /api/v1/events/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {edge.tokens['size']}\r\n"
        f"Content-Length: {50 * MAX_BYTES}\r\nContent-Type: application/x-ndjson\r\n",
    )
    with sock:
        answer = _read_all(sock)

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b"Content-Type: application/json" in head
    assert json.loads(body)["error"] == (
        f"body is {50 * MAX_BYTES} bytes; the limit is {MAX_BYTES} bytes"
    )


def test_a_chunked_body_is_cut_off_at_the_limit_and_nothing_is_stored(edge):
    body = _ndjson("chunked-over", 200, pad=1000)
    assert len(body) > MAX_BYTES

    response = edge.post("size", _chunks(body), **{"Content-Type": "application/x-ndjson"})

    assert response.status_code == 413
    assert response.json()["error"] == f"body is over the limit of {MAX_BYTES} bytes"
    assert edge.stored("chunked-over") == 0


def test_a_chunked_body_under_the_limit_is_stored(edge):
    body = _ndjson("chunked-under", 50, pad=100)

    response = edge.post("size", _chunks(body, 1000))

    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 50
    assert edge.stored("chunked-under") == 50


def test_a_gzip_bomb_is_refused_at_the_limit(edge):
    bomb = gzip.compress(b" " * (200 * MAX_BYTES), compresslevel=9)
    assert len(bomb) < MAX_BYTES

    response = edge.post("size", bomb, **{"Content-Encoding": "gzip"})

    assert response.status_code == 413
    assert "limit" in response.json()["error"]


def test_a_client_that_stops_sending_holds_no_worker_and_gets_a_408(edge):
    workers = edge.server.worker_pids()
    slow = _raw_request(
        edge.server.port,
        "POST /api/v1/events/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {edge.tokens['slow']}\r\nContent-Length: 5000\r\n",
        b'{"event_id": "slow-1", ',
    )
    with slow:
        # The body is awaited in the event loop, not by the app: everyone else is served.
        assert edge.post("slow", _ndjson("beside-slow", 3)).status_code == 200
        answer = _read_all(slow)  # the server gives up on the body and closes the connection

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer[:300]
    assert json.loads(body)["error"] == (f"the request body did not arrive within {BODY_SECONDS} s")
    assert edge.server.worker_pids() == workers  # no worker was stuck, none was replaced
    assert "WORKER TIMEOUT" not in edge.server.log(tail=10**7)
    assert edge.post("slow", _ndjson("after-slow", 3)).status_code == 200
    assert edge.stored("slow") == 0


def test_a_client_that_trickles_its_request_head_is_cut_off_after_request_header_seconds(edge):
    """A byte of the head every 0.2 s would take the client 40 s; the server closes the socket
    once REQUEST_HEADER_SECONDS have passed, while the head is still coming."""
    head = (
        "POST /api/v1/events/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {edge.tokens['slow']}\r\nContent-Type: application/json\r\n"
        + "X-Padding: "
        + "p" * 80
        + "\r\n\r\n"
    ).encode()
    sent = 0
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", edge.server.port), timeout=30) as sock:
        try:
            for byte in head:
                sock.sendall(bytes([byte]))
                sent += 1
                time.sleep(0.2)
                sock.setblocking(False)
                try:
                    if sock.recv(1024) == b"":
                        break  # closed by the server
                except BlockingIOError:
                    pass  # still open
                finally:
                    sock.setblocking(True)
        except (BrokenPipeError, ConnectionResetError):
            pass
        elapsed = time.monotonic() - started
    assert sent < len(head), "the whole head was taken, however slowly"
    assert HEADER_SECONDS <= elapsed < HEADER_SECONDS + 10, elapsed
    assert edge.post("slow", _ndjson("after-trickle", 1)).status_code == 200
