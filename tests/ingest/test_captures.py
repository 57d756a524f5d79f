"""The requests real shippers sent (../shared/shippers/*/captured/), replayed through gunicorn.

Each `NNNN.head.bin` + `NNNN.body.bin` is written to a socket byte for byte (chunked ones
re-chunked), with three substitutions: our token for theirs (in the same scheme; Basic where
the client sent none), our path for the capture server's `/ingest`, and `Connection: close`.

The captured records are not Clickpost events ("hello 1"), so two facts are checked:
- as sent, every record is read (framing, encoding, chunking, its timestamp form) and refused
  only for the Clickpost fields it lacks, in the reply its protocol defines;
- shaped as Clickpost events (the same bytes, with an endpoint and status beside each message,
  or the message replaced by an event in JSON, where the protocol carries one as text), each
  record is stored once, with the record's own time, and the reply is the one its shipper
  needs (README table: winston exactly 200, Loki exactly 204, rsyslog an ES bulk reply, ...).
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from tests.shared import SHIPPERS_DIR, require
from tests.shippers.live import live_app, send_raw

pytestmark = pytest.mark.slow

GENERIC = "/api/v1/events/"
CLICKPOST_FIELDS = {"endpoint", "http_status"}
# Each captured message text, and the Clickpost call it stands for in the shaped replay.
SHAPES = {
    "hello 1": (
        {"endpoint": "/api/v3/create-order/", "http_status": "200"},
        ("order_create", 200, "success"),
    ),
    'héllo "quoted" ✓': (
        {"endpoint": "/api/v2/tracking/awb-register/", "http_status": "503"},
        ("tracking_register", 503, "server"),
    ),
    "line1\nline2": (
        {"endpoint": "/api/v1/cancel-order/", "http_status": "200", "code": "202"},
        ("order_cancel", 202, "order_cancellation"),
    ),
}
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
# syslog-ng's raw mode sends the input lines verbatim, and those have no time of their own.
WITHOUT_TIME = {("syslog-ng", "raw")}


@dataclass(frozen=True)
class Shipper:
    door: str  # generic, otlp, loki or elastic: how the record carries its message
    needs: str  # the reply the client takes as success
    extra: frozenset[str]  # envelope fields each stored event keeps in `extra`


SHIPPERS = {
    "syslog-ng": Shipper("generic", "2xx", frozenset({"level", "user_id"})),
    "winston-http": Shipper("generic", "exactly 200", frozenset({"level", "service", "user_id"})),
    # pino's `msg` is read as the event's message, so it is not kept in `extra` as well
    "pino-http-send": Shipper("generic", "2xx", frozenset({"level", "service", "user_id"})),
    "otlp-http-js": Shipper("otlp", "OTLP full success", frozenset({"service.name", "severity"})),
    "python-logging-loki": Shipper("loki", "exactly 204", frozenset({"app", "severity", "logger"})),
    "rsyslog-omelasticsearch": Shipper("elastic", "ES bulk success", frozenset({"host", "level"})),
}


@dataclass(frozen=True)
class Capture:
    shipper: str
    case: str
    number: str
    head: bytes
    body: bytes
    captured_at: datetime

    @property
    def name(self) -> str:
        return f"{self.shipper}/{self.case}/{self.number}"

    @property
    def method(self) -> str:
        return self.head.split(b" ", 1)[0].decode()

    def header(self, name: str) -> str | None:
        for line in self.head.split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == name.lower().encode():
                return value.strip().decode()
        return None


def load_captures() -> list[Capture]:
    captures = []
    for head in sorted(SHIPPERS_DIR.glob("*/captured/*/*.head.bin")):
        number = head.name.removesuffix(".head.bin")
        meta = json.loads((head.parent / f"{number}.meta.json").read_text())
        captures.append(
            Capture(
                shipper=head.parents[2].name,
                case=head.parent.name,
                number=number,
                head=head.read_bytes(),
                body=(head.parent / f"{number}.body.bin").read_bytes(),
                captured_at=datetime.fromtimestamp(meta["time"], UTC),
            )
        )
    return captures


CAPTURES = load_captures() if SHIPPERS_DIR.is_dir() else []
POSTS = [c for c in CAPTURES if c.method == "POST"]


def test_the_captures_are_there():
    require(SHIPPERS_DIR)
    assert {c.shipper for c in POSTS} == set(SHIPPERS)


@pytest.fixture(scope="module")
def live():
    """The server with its clock just after the last capture: the captured bytes carry their
    times, and those must be recent for ingest to take them (tests/clock.py)."""
    last = max((c.captured_at for c in CAPTURES), default=datetime.now(UTC))
    with live_app("captures", clock=last + timedelta(minutes=1)) as app:
        yield app


@pytest.fixture(scope="module")
def token(live) -> str:
    return live.create_token("captured-shippers")


def replay(live, capture: Capture, body: bytes, token: str) -> tuple[int, dict, bytes]:
    """The capture's request with our token and path, its body framed as it was sent."""
    request_line, *lines = capture.head.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    method, path, version = request_line.split(b" ")
    if path == b"/ingest":
        path = GENERIC.encode()
    chunked = (capture.header("Transfer-Encoding") or "").lower() == "chunked"
    headers = [_substitute(line, body, token) for line in lines]
    headers = [h for h in headers if h is not None]
    if capture.header("Authorization") is None and method == b"POST":
        headers.append(b"Authorization: " + _basic(token))
    headers.append(b"Connection: close")
    head = b"\r\n".join([b" ".join([method, path, version]), *headers]) + b"\r\n\r\n"
    framed = (b"%x\r\n%s\r\n" % (len(body), body) if body else b"") + b"0\r\n\r\n"
    return send_raw(live.host, live.port, head, framed if chunked else body)


def _substitute(line: bytes, body: bytes, token: str) -> bytes | None:
    key, _, value = line.partition(b":")
    name = key.strip().lower()
    if name == b"authorization":
        scheme = value.strip().split(b" ")[0]
        return (
            key
            + b": "
            + (_basic(token) if scheme.lower() == b"basic" else b"Bearer " + token.encode())
        )
    if name == b"content-length":
        return key + b": " + str(len(body)).encode()
    if name == b"connection":
        return None
    return line


def _basic(token: str) -> bytes:
    return b"Basic " + base64.b64encode(f"elastic:{token}".encode())


def shaped(capture: Capture, run: str) -> tuple[bytes, int]:
    """The capture's body with each message made a Clickpost call (see the module docstring),
    and how many records it holds; a gzip body is inflated, shaped and gzipped again."""
    gzipped = (capture.header("Content-Encoding") or "").lower() == "gzip"
    body = gzip.decompress(capture.body) if gzipped else capture.body
    door = SHIPPERS[capture.shipper].door
    count = 0

    def shape(match: re.Match[bytes]) -> bytes:
        nonlocal count
        text = json.loads(match.group())
        if text not in SHAPES:
            return match.group()
        fields = {**SHAPES[text][0], "waybill": f"{run}-{count}"}
        if (capture.shipper, capture.case) in WITHOUT_TIME:
            fields["timestamp"] = capture.captured_at.isoformat()
        count += 1
        if door == "generic":  # beside the message, in the record itself
            return match.group() + b"," + json.dumps(fields)[1:-1].encode()
        return json.dumps(json.dumps({**fields, "message": text})).encode()

    body = _JSON_STRING.sub(shape, body)
    return (gzip.compress(body) if gzipped else body), count


def records_in(capture: Capture) -> int:
    return shaped(capture, "count")[1]


@pytest.mark.parametrize("capture", POSTS, ids=lambda c: c.name)
def test_capture_as_sent_is_read_and_refused_only_for_missing_clickpost_fields(
    live, token, capture
):
    status, headers, content = replay(live, capture, capture.body, token)
    door, records = SHIPPERS[capture.shipper].door, records_in(capture)
    assert records > 0
    if door == "elastic":
        reply = json.loads(content)
        assert (status, reply["errors"]) == (200, True)
        assert [item["index"]["status"] for item in reply["items"]] == [400] * records
        assert all(
            "endpoint: required" in item["index"]["error"]["reason"] for item in reply["items"]
        )
        assert "timestamp" not in content.decode()
    elif door == "otlp":
        assert status == 200
        partial = json.loads(content)["partialSuccess"]
        assert partial["rejectedLogRecords"] == str(records)
        assert "timestamp" not in partial["errorMessage"]
    else:  # the generic endpoint and Loki: 400 with the counts when every event is refused
        reply = json.loads(content)
        assert (status, reply["accepted"], reply["rejected"]) == (400, 0, records)
        missing = CLICKPOST_FIELDS
        if (capture.shipper, capture.case) in WITHOUT_TIME:
            missing = missing | {"timestamp"}
        assert all(set(error["errors"]) <= missing for error in reply["errors"])


@pytest.mark.parametrize("capture", POSTS, ids=lambda c: c.name)
def test_capture_shaped_as_clickpost_calls_is_stored_once_with_the_reply_its_shipper_needs(
    live, token, capture
):
    run = uuid.uuid4().hex[:12]
    body, records = shaped(capture, run)
    for _first_then_retry in range(2):
        assert_shipper_is_satisfied(capture, *replay(live, capture, body, token))
    rows = live.query(
        "SELECT waybill, endpoint, code, category, ts, extra FROM ingest_event"
        " WHERE waybill LIKE %s ORDER BY waybill",
        (f"{run}-%",),
    )
    assert [row[0] for row in rows] == [f"{run}-{n}" for n in range(records)]
    expected_tags = {shape[1] for shape in SHAPES.values()}
    assert {(row[1], row[2], row[3]) for row in rows} <= expected_tags
    for *_, ts, extra in rows:
        assert abs((ts - capture.captured_at).total_seconds()) < 60, "the record's own time"
        assert SHIPPERS[capture.shipper].extra <= set(extra)
        assert "msg" not in extra, "pino's msg is the message, consumed"


def assert_shipper_is_satisfied(capture: Capture, status: int, headers: dict, content: bytes):
    needs = SHIPPERS[capture.shipper].needs
    if needs == "exactly 200":
        assert status == 200
    elif needs == "2xx":
        assert 200 <= status < 300
    elif needs == "exactly 204":
        assert (status, content) == (204, b"")
    elif needs == "OTLP full success":
        assert status == 200
        assert headers["content-type"] == "application/json"
        assert json.loads(content) == {}
    else:
        reply = json.loads(content)
        assert (status, reply["errors"]) == (200, False)
        assert headers["x-elastic-product"] == "Elasticsearch"
        assert all(200 <= item["index"]["status"] < 300 for item in reply["items"])


@pytest.mark.parametrize(
    "capture", [c for c in CAPTURES if c.method == "GET"], ids=lambda c: c.name
)
def test_rsyslogs_health_probe_after_an_outage_is_answered(live, token, capture):
    status, headers, content = replay(live, capture, capture.body, token)
    assert status == 200
    assert b"green" in content


def test_generic_door_reads_a_chunked_body_and_answers_an_empty_flush(live, token):
    """What syslog-ng and Fluent Bit do besides the captures: chunked uploads, empty batches."""
    require(SHIPPERS_DIR)
    [capture] = [c for c in POSTS if c.name == "syslog-ng/ndjson/0001"]
    body, records = shaped(capture, uuid.uuid4().hex[:12])
    head = (
        f"POST {GENERIC} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(part), part) for part in body.splitlines(keepends=True)
    )
    status, _, content = send_raw(live.host, live.port, head, chunks + b"0\r\n\r\n")
    assert (status, json.loads(content)["accepted"]) == (200, records)
    empty = head.replace(b"Transfer-Encoding: chunked", b"Content-Length: 0")
    status, _, content = send_raw(live.host, live.port, empty, b"")
    assert (status, json.loads(content)) == (
        200,
        {"accepted": 0, "duplicates": 0, "rejected": 0, "errors": []},
    )


@pytest.mark.parametrize(
    "chunks",
    [b"zz\r\n{}\r\n0\r\n\r\n", b"2\r\n{}XX0\r\n\r\n"],
    ids=["bad-size", "no-chunk-terminator"],
)
@pytest.mark.parametrize("door", [GENERIC, "/betterstack/", "/services/collector"])
def test_a_malformed_chunked_body_is_a_json_400_and_no_traceback(live, token, chunks, door):
    """The server's HTTP parser refuses a broken chunk before the app sees a byte (the body is
    buffered whole first: clickpost_monitor/asgi.py); its 400 is in the API's JSON error shape
    (clickpost_monitor/server.py) naming the fault; nothing is stored and nothing is logged as a
    crash."""
    scheme = "Splunk" if door.startswith("/services") else "Bearer"
    head = (
        f"POST {door} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {scheme} {token}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    status, headers, content = send_raw(live.host, live.port, head, chunks)
    assert status == 400, content
    assert headers["content-type"] == "application/json"
    assert "chunk" in json.loads(content)["error"].lower()
    assert "Traceback" not in live.log_tail(400)
