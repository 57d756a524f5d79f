"""`POST /api/v1/events/` end to end: every framing and encoding, every refusal with its JSON
body, retries, junk, a gzip bomb, secrets, tagging, token counts; a real gunicorn for chunked
bodies (the test client cannot send one) and concurrent shippers posting the same events."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import zlib
from datetime import UTC, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection
from django.test import RequestFactory
from django.utils import timezone as django_timezone
from rest_framework.test import APIClient

from clickpost_monitor.api import EventsView
from ingest.doors import http as door_http
from tests.fault.harness import ensure_static_files
from tests.ingest.test_events import SPEC_PATHS
from tests.ingest.test_store import (
    ROLLUP_DIMENSIONS,
    assert_rollups_equal_raw_counts,
    rollup_contents,
    stored_count,
)
from tokens.auth import create_token
from tokens.models import ApiToken

URL = "/api/v1/events/"
ROOT = Path(__file__).resolve().parents[2]
# Stored events must be in the past (5 minutes ahead is refused) and in today's partition.
BASE = django_timezone.now().astimezone(UTC).replace(microsecond=0) - timedelta(minutes=10)
COMMITTED = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def event(n: int, **fields) -> dict:
    """A valid raw event, no event_id: its content (waybill WB<n>) is its identity."""
    return {
        "timestamp": (BASE - timedelta(seconds=n)).isoformat(),
        "endpoint": "/api/v3/create-order/",
        "http_status": 200,
        "waybill": f"WB{n:05d}",
        "cp_id": 4,
        "courier": "Delhivery",
        "latency_ms": 120.5,
        **fields,
    }


def ndjson(events: list, *, newline: str = "\n", final: bool = True) -> bytes:
    lines = [json.dumps(e) for e in events]
    return (newline.join(lines) + (newline if final else "")).encode()


def post(
    client: APIClient, body: bytes, *, content_type="application/json", encoding=None, **extra
):
    if encoding:
        extra["HTTP_CONTENT_ENCODING"] = encoding
    return client.generic("POST", URL, body, content_type=content_type, **extra)


def stored(column: str = "waybill") -> list:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM ingest_event ORDER BY waybill, ts")
        return [value for (value,) in cursor.fetchall()]


def stored_rows(*columns: str) -> dict[str, tuple]:
    """waybill -> the stored columns, for events whose waybill identifies them."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT waybill, {', '.join(columns)} FROM ingest_event")
        return {row[0]: row[1:] for row in cursor.fetchall()}


def json_error(response, status: int) -> dict:
    """The JSON error body of a refused request (never HTML), with its one-line `error`."""
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert isinstance(body["error"], str) and body["error"]
    return body


def counts(response, status: int = 200) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    return json.loads(response.content)


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def token_row(secret: str) -> ApiToken:
    return ApiToken.objects.get(digest=ApiToken.digest_of(secret))


# ---------------------------------------------------------------- framings and encodings

THREE = [event(1), event(2), event(3)]
FRAMINGS = {
    "one object": (json.dumps(THREE[0]).encode(), 1),
    "array": (json.dumps(THREE).encode(), 3),
    "wrapped events": (json.dumps({"events": THREE}).encode(), 3),
    "wrapped logs": (json.dumps({"logs": THREE}).encode(), 3),
    "wrapped records": (json.dumps({"records": THREE}).encode(), 3),
    "ndjson lf, final newline": (ndjson(THREE), 3),
    "ndjson lf, no final newline": (ndjson(THREE, final=False), 3),
    "ndjson crlf, final newline": (ndjson(THREE, newline="\r\n"), 3),
    "ndjson crlf, no final newline": (ndjson(THREE, newline="\r\n", final=False), 3),
    "ndjson with blank lines": (
        b"\n\n" + ndjson(THREE[:1]) + b"  \n\r\n\t\n" + ndjson(THREE[1:], newline="\n\n") + b"\n",
        3,
    ),
}
ENCODINGS = {
    "identity": (None, lambda body: body),
    "gzip": ("gzip", gzip.compress),
    "deflate (zlib)": ("deflate", zlib.compress),
    "deflate (raw)": ("deflate", raw_deflate),
}


@pytest.mark.parametrize("coding", ENCODINGS)
@pytest.mark.parametrize("framing_name", FRAMINGS)
def test_every_framing_with_every_encoding_stores_its_events(ingest_client, framing_name, coding):
    body, expected = FRAMINGS[framing_name]
    header, encode = ENCODINGS[coding]

    answer = counts(post(ingest_client, encode(body), encoding=header))

    assert answer == {"accepted": expected, "duplicates": 0, "rejected": 0, "errors": []}
    assert stored() == [e["waybill"] for e in THREE[:expected]]


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/x-ndjson",
        "application/jsonl",
        "text/plain",
        "application/x-www-form-urlencoded",
        "",
    ],
)
def test_every_shipper_content_type_is_read_by_the_body(ingest_client, content_type):
    answer = counts(post(ingest_client, ndjson(THREE), content_type=content_type))

    assert answer["accepted"] == 3
    assert len(stored()) == 3


@pytest.mark.parametrize(
    "content_type",
    ["application/xml", "text/xml", "multipart/form-data; boundary=xyz", "image/png"],
)
def test_a_content_type_that_is_not_json_is_415_and_nothing_is_stored(
    ingest_client, ingest_token, content_type
):
    body = b'--xyz\r\nContent-Disposition: form-data; name="e"\r\n\r\n' + ndjson(THREE) + b"--xyz--"

    error = json_error(post(ingest_client, body, content_type=content_type), 415)

    assert content_type.split(";")[0] in error["error"]
    assert stored_count() == 0
    assert content_type.split(";")[0] in token_row(ingest_token).last_error


def test_an_unknown_content_encoding_is_415(ingest_client):
    error = json_error(post(ingest_client, ndjson(THREE), encoding="br"), 415)
    assert "br" in error["error"]
    assert stored_count() == 0


@pytest.mark.parametrize("body", [b"", b"[]", b'{"events": []}', b"\n\r\n  \n"])
def test_an_empty_batch_is_200_with_zero_counts(ingest_client, body):
    answer = counts(post(ingest_client, body))
    assert answer == {"accepted": 0, "duplicates": 0, "rejected": 0, "errors": []}


# ---------------------------------------------------------------- refusals


def test_an_unparsable_body_is_400_saying_where(ingest_client, ingest_token):
    body = b'{"timestamp": "2026-01-01T00:00:00Z",\n  "endpoint": }'

    error = json_error(post(ingest_client, body), 400)

    assert "line 2, column" in error["error"]
    assert stored_count() == 0
    assert token_row(ingest_token).last_error == error["error"]


def test_a_corrupt_gzip_body_is_400_saying_so(ingest_client):
    error = json_error(post(ingest_client, gzip.compress(ndjson(THREE))[:-9], encoding="gzip"), 400)
    assert "gzip" in error["error"]


def test_a_batch_where_every_event_is_rejected_is_400_listing_each(ingest_client):
    body = json.dumps([{"endpoint": "order_create", "http_status": 200}, {"timestamp": "x"}])

    answer = counts(post(ingest_client, body.encode()), status=400)

    assert (answer["accepted"], answer["duplicates"], answer["rejected"]) == (0, 0, 2)
    assert [e["index"] for e in answer["errors"]] == [0, 1]
    assert answer["errors"][0]["errors"] == {"timestamp": ["required"]}
    assert set(answer["errors"][1]["errors"]) == {"timestamp", "endpoint", "http_status"}


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer cpm_wrong", "Token cpm_wrong", "Basic !!!", "Digest abc", "Bearer"],
)
def test_without_a_valid_token_it_is_401_in_json(api, ingest_token, authorization):
    extra = {"HTTP_AUTHORIZATION": authorization} if authorization else {}

    json_error(post(api, ndjson(THREE), **extra), 401)

    assert stored_count() == 0


def test_a_revoked_token_is_401_saying_so(api, ingest_token):
    ApiToken.objects.update(revoked_at=django_timezone.now())

    error = json_error(post(api, ndjson(THREE), HTTP_AUTHORIZATION=f"Token {ingest_token}"), 401)

    assert "revoked" in error["error"]
    assert stored_count() == 0


def test_a_read_only_token_cannot_post_403(read_client):
    error = json_error(post(read_client, ndjson(THREE)), 403)
    assert "ingest" in error["error"]
    assert stored_count() == 0


def test_a_body_over_the_byte_limit_is_413_and_nothing_stored(ingest_client, settings):
    settings.INGEST_MAX_BYTES = 4096
    body = ndjson([event(n) for n in range(40)])
    assert len(body) > 4096

    error = json_error(post(ingest_client, body), 413)

    assert "4096" in error["error"]
    assert stored_count() == 0


def test_a_gzip_body_over_the_byte_limit_once_inflated_is_413(ingest_client, settings):
    settings.INGEST_MAX_BYTES = 4096
    body = gzip.compress(ndjson([event(n) for n in range(40)]))
    assert len(body) < 4096

    error = json_error(post(ingest_client, body, encoding="gzip"), 413)

    assert "decompressed" in error["error"]
    assert stored_count() == 0


class CountingZeros:
    """A request body stream of zeros that counts the bytes read from it."""

    def __init__(self) -> None:
        self.read_total = 0

    def read(self, size: int = -1, /) -> bytes:
        size = 65536 if size is None or size < 0 else size
        self.read_total += size
        return bytes(size)

    def readline(self, size: int = -1, /) -> bytes:
        return self.read(size)


def test_a_declared_length_over_the_limit_is_413_before_the_body_is_read(ingest_token, settings):
    stream = CountingZeros()
    request = RequestFactory().generic(
        "POST",
        URL,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {ingest_token}",
        CONTENT_LENGTH=str(settings.INGEST_MAX_BYTES + 1),
        **{"wsgi.input": stream},
    )

    response = EventsView.as_view()(request)
    response.render()

    json_error(response, 413)
    assert stream.read_total == 0


@pytest.mark.parametrize("declared", ["abc", "-5", "1e3"])
def test_a_content_length_that_is_not_a_length_is_400_in_json(ingest_token, declared):
    request = RequestFactory().generic(
        "POST",
        URL,
        ndjson(THREE),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {ingest_token}",
        CONTENT_LENGTH=declared,
    )

    response = EventsView.as_view()(request)
    response.render()

    assert declared in json_error(response, 400)["error"]
    assert stored_count() == 0


def test_a_batch_over_the_event_limit_is_413_and_nothing_stored(ingest_client, settings):
    settings.INGEST_MAX_EVENTS = 5

    error = json_error(post(ingest_client, ndjson([event(n) for n in range(6)])), 413)
    at_limit = counts(post(ingest_client, ndjson([event(n) for n in range(5)])))

    assert "6" in error["error"] and "5" in error["error"]
    assert at_limit["accepted"] == 5
    assert stored_count() == 5


def test_over_the_rate_limit_it_is_429_with_retry_after(ingest_client, settings):
    settings.INGEST_RATE_PER_MINUTE = 2

    answers = [post(ingest_client, ndjson([event(n)])) for n in range(3)]

    assert [a.status_code for a in answers[:2]] == [200, 200]
    error = json_error(answers[2], 429)
    assert int(answers[2]["Retry-After"]) > 0
    assert error["retry_after"] > 0
    assert stored_count() == 2


def test_a_database_failing_mid_write_is_503_with_retry_after_and_nothing_half_stored(
    ingest_client,
):
    """The courier rollup refuses its rows (as a statement timeout would) after the raw rows
    and the code rollup were written in the same statement."""
    counts(post(ingest_client, ndjson(THREE[:1])))
    before = {table: rollup_contents(table) for table in ROLLUP_DIMENSIONS}
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'canceling statement' USING ERRCODE = 'query_canceled'; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON ingest_rollup_courier "
            "FOR EACH ROW EXECUTE FUNCTION refuse()"
        )

    response = post(ingest_client, ndjson([event(n) for n in range(10, 30)]))

    json_error(response, 503)
    assert int(response["Retry-After"]) > 0
    assert stored() == [THREE[0]["waybill"]]
    assert {table: rollup_contents(table) for table in ROLLUP_DIMENSIONS} == before


@pytest.fixture
def committed(transactional_db, django_db_serialized_rollback):
    """Committed rows: the flush after a transactional test leaves the unmanaged raw-event
    table alone, so it is emptied here."""
    yield
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE ingest_event")


@COMMITTED
def test_an_unreachable_database_is_503_with_retry_after_and_nothing_stored(
    committed, ingest_token
):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {ingest_token}")
    before = stored_count()
    saved = {key: connection.settings_dict[key] for key in ("HOST", "PORT")}
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT="1")  # nothing listens there
    try:
        response = post(client, ndjson(THREE))
    finally:
        connection.settings_dict.update(saved)
        connection.close()

    json_error(response, 503)
    assert int(response["Retry-After"]) > 0
    assert stored_count() == before
    assert counts(post(client, ndjson(THREE)))["accepted"] == 3  # healthy again
    assert stored_count() == before + 3


def test_unknown_paths_and_methods_answer_json(ingest_client, read_client):
    json_error(ingest_client.get("/api/v1/no-such-thing/"), 404)
    # PUT is not ingest: an ingest token lacks the scope of the other methods (403); a read
    # token has it, and PUT is then a method the endpoint does not allow (405).
    json_error(ingest_client.put(URL, b"[]", content_type="application/json"), 403)
    json_error(read_client.put(URL, b"[]", content_type="application/json"), 405)


@pytest.mark.parametrize("content_type", ["application/json", "application/x-ndjson", "text/xml"])
@pytest.mark.parametrize("csrf_header", [True, False], ids=["valid-csrf", "no-csrf-header"])
def test_a_session_post_with_a_content_type_is_403_not_415(
    django_user_model, content_type, csrf_header
):
    """A logged-in browser may not ingest: the answer is 403 whatever type it sends (a 415 would
    say the type was the problem). A browser holds a CSRF cookie, which makes the CSRF check
    read the form body: that is where the 415 came from."""
    user = django_user_model.objects.create_user("viewer", password="pw-12345678")
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    secret = "a" * 32
    client.cookies["csrftoken"] = secret
    headers = {"HTTP_X_CSRFTOKEN": secret} if csrf_header else {}
    response = client.generic("POST", URL, ndjson(THREE), content_type=content_type, **headers)
    error = json_error(response, 403)
    assert ("CSRF" in error["error"]) is not csrf_header
    assert stored_count() == 0


def test_a_query_string_token_is_refused_outside_the_logzio_door(api, ingest_token):
    """SPEC: a token is taken from a query string only on /logzio/."""
    json_error(api.generic("POST", f"{URL}?token={ingest_token}", ndjson(THREE)), 401)
    json_error(api.generic("POST", f"/v1/logs?token={ingest_token}", b"{}"), 401)
    assert stored_count() == 0


# ---------------------------------------------------------------- mixed batches


def test_a_mixed_batch_stores_the_valid_and_lists_the_bad_by_index_and_field(ingest_client):
    batch = [
        event(0),
        {"@timestamp": "yesterday", "endpoint": "order_create", "http_status": 200},
        event(2),
        {"time": BASE.isoformat(), "api": 42, "status_code": "abc"},
        "not an object",
        event(5),
    ]

    answer = counts(post(ingest_client, json.dumps(batch).encode()))

    assert (answer["accepted"], answer["duplicates"], answer["rejected"]) == (3, 0, 3)
    assert [(e["index"], sorted(e["errors"])) for e in answer["errors"]] == [
        (1, ["@timestamp"]),
        (3, ["api", "status_code"]),
        (4, ["event"]),
    ]
    assert stored() == ["WB00000", "WB00002", "WB00005"]


def test_at_most_100_errors_are_listed(ingest_client):
    batch = [{"endpoint": "order_create", "http_status": 200}] * 150 + [event(1)]

    answer = counts(post(ingest_client, json.dumps(batch).encode()))

    assert (answer["accepted"], answer["rejected"]) == (1, 150)
    assert [e["index"] for e in answer["errors"]] == list(range(100))


# ---------------------------------------------------------------- retries


@pytest.mark.parametrize("with_event_id", [True, False])
def test_a_retried_batch_stores_nothing_twice(ingest_client, with_event_id):
    batch = [event(n, **({"event_id": f"id-{n}"} if with_event_id else {})) for n in range(20)]
    first = counts(post(ingest_client, ndjson(batch)))
    rollups = {table: rollup_contents(table) for table in ROLLUP_DIMENSIONS}

    again = counts(post(ingest_client, gzip.compress(ndjson(batch)), encoding="gzip"))

    assert (first["accepted"], first["duplicates"]) == (20, 0)
    assert (again["accepted"], again["duplicates"], again["rejected"]) == (0, 20, 0)
    assert stored_count() == 20
    assert {table: rollup_contents(table) for table in ROLLUP_DIMENSIONS} == rollups
    assert_rollups_equal_raw_counts()


def test_duplicates_inside_one_batch_are_stored_once(ingest_client):
    one, two = event(1), event(2, event_id="e-2")
    batch = [one, two, one, dict(reversed(one.items())), two, {**two, "waybill": "other"}]

    answer = counts(post(ingest_client, json.dumps(batch).encode()))

    assert (answer["accepted"], answer["duplicates"]) == (2, 4)
    assert stored() == ["WB00001", "WB00002"]
    assert_rollups_equal_raw_counts()


# ---------------------------------------------------------------- junk

GOOD_LINE = json.dumps(event(1)).encode()
PREFIX = (
    b'{"timestamp": "' + BASE.isoformat().encode() + b'", "endpoint": "order_create", '
    b'"http_status": 200, '
)
JUNK_EVENTS = {
    # name: (the bad JSON line, the field its error is filed under)
    "NUL in a value": (PREFIX + b'"message": "a\\u0000b"}', "message"),
    "NUL in a field name": (PREFIX + b'"we\\u0000ird": 1}', "event"),
    "NUL deep in request": (PREFIX + b'"request": {"a": [{"b": "x\\u0000"}]}}', "request"),
    "raw NUL byte": (PREFIX + b'"message": "a\x00b"}', "event"),
    "lone surrogate in a value": (PREFIX + b'"message": "\\ud800"}', "message"),
    "lone surrogate in waybill": (PREFIX + b'"waybill": "AB\\udfff"}', "waybill"),
    "lone surrogate in a nested key": (PREFIX + b'"request": {"\\ud800": 1}}', "request"),
    "lone surrogate in an extra field": (PREFIX + b'"note": ["\\udc00"]}', "note"),
    "huge integer latency": (PREFIX + b'"latency_ms": 1' + b"0" * 400 + b"}", "latency_ms"),
    "huge integer timestamp": (
        b'{"endpoint": "order_create", "http_status": 200, "timestamp": 1' + b"0" * 400 + b"}",
        "timestamp",
    ),
    "huge http_status": (PREFIX.replace(b"200", b"2" + b"0" * 400) + b'"cp_id": 1}', "http_status"),
    "cp_id over 32 bits": (PREFIX + b'"cp_id": 99999999999}', "cp_id"),
    "code over 32 bits as text": (PREFIX + b'"code": "99999999999999999999"}', "code"),
    "1e400": (PREFIX + b'"latency_ms": 1e400}', "event"),
    "NaN": (PREFIX + b'"latency_ms": NaN}', "event"),
    "a 5000-digit integer": (PREFIX + b'"n": ' + b"9" * 5000 + b"}", "event"),
    "10,000 nested arrays in request": (
        PREFIX + b'"request": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
        "event",
    ),
    "100 nested objects in request": (
        PREFIX + b'"request": ' + b'{"a": ' * 100 + b"1" + b"}" * 100 + b"}",
        "request",
    ),
    "broken UTF-8": (PREFIX + b'"message": "caf\xc3("}', "event"),
    "UTF-8 encoded surrogate": (PREFIX + b'"message": "\xed\xa0\x80"}', "event"),
    "overlong UTF-8": (PREFIX + b'"message": "\xc0\xaf"}', "event"),
}


@pytest.mark.parametrize("name", JUNK_EVENTS)
def test_junk_in_one_event_is_that_events_error_never_a_500(ingest_client, name):
    line, field = JUNK_EVENTS[name]

    answer = counts(post(ingest_client, GOOD_LINE + b"\n" + line + b"\n"))

    assert (answer["accepted"], answer["rejected"]) == (1, 1)
    assert answer["errors"][0]["index"] == 1
    assert list(answer["errors"][0]["errors"]) == [field]
    assert stored() == ["WB00001"]


@pytest.mark.parametrize(
    "body, says",
    [
        (b"[" * 10_000 + b"]" * 10_000, "nested too deeply"),
        (b'{"events": ' + b"[" * 10_000 + b"]" * 10_000 + b"}", "nested too deeply"),
        (b'{"message": "caf\xc3("}', "not valid UTF-8 at byte offset 16"),
        (b"\x00\x00\x00", "not valid JSON"),
        (b"\xff\xfe[\x00]\x00", "not valid UTF-8 at byte offset 0"),
    ],
)
def test_junk_that_spoils_the_whole_body_is_a_400_saying_why(ingest_client, body, says):
    error = json_error(post(ingest_client, body), 400)
    assert says in error["error"]
    assert stored_count() == 0


def test_a_huge_integer_in_an_extra_field_is_stored_exactly(ingest_client):
    big = 10**400
    body = GOOD_LINE[:-1] + b', "big": ' + str(big).encode() + b"}"

    answer = counts(post(ingest_client, body))

    assert answer["accepted"] == 1
    assert [json.loads(extra) for extra in stored("extra")] == [{"big": big}]


def test_a_json_string_of_a_lone_surrogate_is_a_rejected_event(ingest_client):
    answer = counts(post(ingest_client, b'"\\ud800"'), status=400)
    assert answer["errors"] == [{"index": 0, "errors": {"event": ["must be a JSON object"]}}]


# ---------------------------------------------------------------- the gzip bomb


def gzip_bomb(*, at_least: int) -> tuple[bytes, int]:
    """(a gzip stream of zeros at least `at_least` bytes long, how many zeros it describes).

    Made by feeding zlib 16 MiB of zeros at a time, each flushed to a byte boundary so every
    such block compresses to the same bytes: repeating the block describes gigabytes in a few
    megabytes without compressing them. The stream has no end: a server that stops at its
    limit never looks for one.
    """
    zeros = bytes(16 * 1024 * 1024)
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    head = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH) == block
    blocks = -(-(at_least - len(head)) // len(block))
    return head + block * blocks, (blocks + 1) * len(zeros)


class InflateMeter:
    """Wraps zlib's decompressors and adds up every byte they hand out."""

    def __init__(self, monkeypatch) -> None:
        self.inflated = 0
        real = zlib.decompressobj
        meter = self

        class Counting:
            def __init__(self, *args) -> None:
                self._inner = real(*args)

            def decompress(self, data, max_length=0):
                out = self._inner.decompress(data, max_length)
                meter.inflated += len(out)
                return out

            def __getattr__(self, name):
                return getattr(self._inner, name)

        monkeypatch.setattr(door_http.zlib, "decompressobj", Counting)


def test_a_gzip_bomb_is_413_and_is_not_inflated(ingest_client, settings, monkeypatch):
    bomb, zeros = gzip_bomb(at_least=4 * 1024 * 1024)
    assert len(bomb) < settings.INGEST_MAX_BYTES and zeros > 4 * 1024**3
    meter = InflateMeter(monkeypatch)

    error = json_error(post(ingest_client, bomb, encoding="gzip"), 413)

    assert "decompressed" in error["error"]
    assert meter.inflated <= settings.INGEST_MAX_BYTES + 1
    assert stored_count() == 0


# ---------------------------------------------------------------- secrets

SECRETS = [f"Sekr1t{n:02d}x" for n in range(22)]


def test_secrets_appear_nowhere_in_the_stored_rows(ingest_client):
    s = SECRETS
    batch = [
        event(
            1,
            url=f"https://www.clickpost.in/api/v3/create-order/?username=acme&key={s[0]}",
            request={
                "url": f"https://api.clickpost.ai/api/v2/track-order/?key={s[1]}&waybill=1",
                "headers": {"Authorization": f"Bearer {s[2]}", "X-Api-Key": s[3]},
                "body": {
                    "order": {
                        "pickup": {"courier_credentials": {"password": s[4], "api_key": s[5]}},
                        "items": [{"token": s[6]}, {"meta": [{"security_key": s[7]}]}],
                    }
                },
                "header_list": [{"name": "Authorization", "value": f"Token {s[8]}"}],
                "raw_body": json.dumps({"api_key": s[9], "order": 1}),
                "form": f"username=acme&key={s[10]}&cp_id=4",
                "oauth": {"accessToken": s[20], "clientSecret": s[21]},
            },
            response={
                "meta": {"status": 200, "message": f"ok key={s[11]}"},
                "echo": {"secret": s[12]},
            },
            api_key=s[13],
            headers={"authorization": f"Basic {s[14]}"},
            message=f"POST /api/v1/cancel-order/?key={s[15]} failed: Bearer {s[16]}",
            client_secret=s[17],
        ),
        event(2, endpoint=f"https://courier.example/v2/book?key={s[18]}&x=1"),
        event(3, context={"deep": {"deeper": {"password": s[19]}}}),
    ]
    del batch[0]["endpoint"]

    answer = counts(post(ingest_client, json.dumps(batch).encode()))

    assert answer["accepted"] == 3, answer["errors"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT t::text FROM ingest_event t")
        rows = "\n".join(text for (text,) in cursor.fetchall())
        cursor.execute("SELECT t::text FROM ingest_rollup_code t")
        rows += "\n".join(text for (text,) in cursor.fetchall())
    assert [secret for secret in SECRETS if secret in rows] == []
    assert rows.count("[REDACTED]") >= len(SECRETS)
    assert "courier.example/v2/book?key=[REDACTED]" in rows


# ---------------------------------------------------------------- fields end to end


def test_numbers_sent_as_strings_are_stored_as_numbers(ingest_client):
    epoch = int(BASE.timestamp())
    line = {
        "timestamp": str(epoch),
        "endpoint": "/api/v1/cancel-order/",
        "http_status": " 200 ",
        "code": "350",
        "cp_id": "4",
        "latency_ms": "812.5",
        "waybill": 123456789012,
        "account_code": "acme",
    }

    answer = counts(
        post(ingest_client, ndjson([line]), content_type="application/x-www-form-urlencoded")
    )

    assert answer["accepted"] == 1
    assert stored_rows("ts", "http_status", "code", "cp_id", "latency_ms", "category") == {
        "123456789012": (BASE, 200, 350, 4, 812.5, "order_cancellation")
    }


IST = timezone(timedelta(hours=5, minutes=30))
MOMENT = BASE - timedelta(hours=2)  # a whole second
TIME_FORMS = {
    "timestamp, RFC 3339 Z": ("timestamp", MOMENT.strftime("%Y-%m-%dT%H:%M:%SZ"), MOMENT),
    "@timestamp, space and +05:30": (
        "@timestamp",
        MOMENT.astimezone(IST).strftime("%Y-%m-%d %H:%M:%S.250+05:30"),
        MOMENT + timedelta(milliseconds=250),
    ),
    "time, +0530 without colon": (
        "time",
        MOMENT.astimezone(IST).strftime("%Y-%m-%dT%H:%M:%S+0530"),
        MOMENT,
    ),
    "date, naive means UTC": ("date", MOMENT.strftime("%Y-%m-%dT%H:%M:%S"), MOMENT),
    "nanosecond fraction": (
        "timestamp",
        MOMENT.strftime("%Y-%m-%dT%H:%M:%S.123456789Z"),
        MOMENT + timedelta(microseconds=123456),
    ),
    "epoch seconds": ("timestamp", int(MOMENT.timestamp()), MOMENT),
    "epoch seconds with fraction": (
        "time",
        MOMENT.timestamp() + 0.5,
        MOMENT + timedelta(milliseconds=500),
    ),
    "epoch milliseconds": (
        "date",
        int(MOMENT.timestamp()) * 1000 + 7,
        MOMENT + timedelta(milliseconds=7),
    ),
    "epoch microseconds": (
        "@timestamp",
        int(MOMENT.timestamp()) * 10**6 + 9,
        MOMENT + timedelta(microseconds=9),
    ),
    "epoch nanoseconds": (
        "timestamp",
        int(MOMENT.timestamp()) * 10**9 + 3000,
        MOMENT + timedelta(microseconds=3),
    ),
    "epoch milliseconds as text": ("timestamp", str(int(MOMENT.timestamp()) * 1000), MOMENT),
}


def test_every_timestamp_alias_and_form_is_stored_as_its_instant(ingest_client):
    batch = []
    for n, (field, value, _) in enumerate(TIME_FORMS.values()):
        raw = event(n)
        del raw["timestamp"]
        batch.append({**raw, field: value})

    answer = counts(post(ingest_client, json.dumps(batch).encode()))

    assert answer["accepted"] == len(TIME_FORMS), answer["errors"]
    expected = {f"WB{n:05d}": (at,) for n, (_, _, at) in enumerate(TIME_FORMS.values())}
    assert stored_rows("ts") == expected


# SPEC's endpoint table: the independent statement of it lives in tests/test_events.py.
HOSTS = ["", "https://www.clickpost.in", "https://api.clickpost.ai"]


def test_endpoint_paths_and_urls_are_stored_as_their_names_and_unknown_ones_as_sent(
    ingest_client,
):
    sent, expected = [], {}
    for name, paths in SPEC_PATHS.items():
        for path in paths:
            for host in HOSTS:
                n = len(sent)
                field = ("endpoint", "api", "path", "url")[n % 4]
                raw = event(n)
                del raw["endpoint"]
                sent.append({**raw, field: f"{host}{path}?username=acme&key=k"})
                expected[f"WB{n:05d}"] = (name,)
        sent.append(event(len(sent), endpoint=name))
        expected[f"WB{len(sent) - 1:05d}"] = (name,)
    for unknown in ["/api/v1/some-new-api/", "shipment_split", "https://x.example/api/v9/a/b"]:
        sent.append(event(len(sent), endpoint=unknown))
        expected[f"WB{len(sent) - 1:05d}"] = (unknown,)

    answer = counts(post(ingest_client, json.dumps(sent).encode()))

    assert answer["accepted"] == len(sent), answer["errors"]
    assert stored_rows("endpoint") == expected


def test_102_and_202_are_tagged_by_endpoint_end_to_end(ingest_client):
    cases = {
        # waybill: (endpoint, http_status, meta.status) -> (code, category, is_error)
        "async-queued": (("order_create", 200, 202), (202, "success", False)),
        "async-in-progress": (("order_create", 200, 102), (102, "success", False)),
        "cancel-mailed": (("order_cancel", 200, 202), (202, "order_cancellation", True)),
        "cancel-350": (("order_cancel", 200, 350), (350, "order_cancellation", True)),
        "350-anywhere": (("tracking_status", 200, 350), (350, "order_cancellation", True)),
        "http-wins": (("order_create", 503, 200), (503, "server", True)),
        "unknown-code": (("order_create", 200, 341), (341, "unknown", True)),
    }
    batch = [
        event(
            0, waybill=waybill, endpoint=ep, http_status=status, response={"meta": {"status": meta}}
        )
        for waybill, ((ep, status, meta), _) in cases.items()
    ]

    counts(post(ingest_client, json.dumps(batch).encode()))

    assert stored_rows("code", "category", "is_error") == {
        waybill: tagged for waybill, (_, tagged) in cases.items()
    }
    by_code = rollup_contents("ingest_rollup_code")
    assert {(key[1], key[3]): (key[2], value[:2]) for key, value in by_code.items()} == {
        ("order_create", 202): ("success", (1, 0)),
        ("order_create", 102): ("success", (1, 0)),
        ("order_cancel", 202): ("order_cancellation", (1, 1)),
        ("order_cancel", 350): ("order_cancellation", (1, 1)),
        ("tracking_status", 350): ("order_cancellation", (1, 1)),
        ("order_create", 503): ("server", (1, 1)),
        ("order_create", 341): ("unknown", (1, 1)),
    }


# ---------------------------------------------------------------- token counts


def test_each_request_updates_its_tokens_counts_last_use_and_last_error(
    ingest_client, ingest_token
):
    token = token_row(ingest_token)
    assert (token.accepted, token.last_used_at) == (0, None)

    counts(post(ingest_client, json.dumps([event(1), event(2), {"endpoint": "x"}]).encode()))
    after_first = token_row(ingest_token)
    counts(post(ingest_client, json.dumps([event(1), event(2), event(3)]).encode()))
    after_retry = token_row(ingest_token)
    json_error(post(ingest_client, b"{nope"), 400)
    after_refusal = token_row(ingest_token)

    assert (after_first.accepted, after_first.duplicates, after_first.rejected) == (2, 0, 1)
    assert "event 2" in after_first.last_error and "timestamp" in after_first.last_error
    assert (after_retry.accepted, after_retry.duplicates, after_retry.rejected) == (3, 2, 1)
    assert after_retry.last_used_at > after_first.last_used_at
    assert (after_refusal.accepted, after_refusal.duplicates, after_refusal.rejected) == (3, 2, 1)
    assert after_refusal.last_error.startswith("body is not valid JSON")
    assert after_refusal.last_error_at > after_first.last_error_at


def test_each_token_counts_only_its_own_requests(ingest_client, db):
    _, other = create_token(name="other-shipper", scopes=["ingest"])
    other_client = APIClient()
    other_client.credentials(HTTP_AUTHORIZATION=f"Bearer {other}")
    counts(post(ingest_client, ndjson([event(1)])))
    counts(post(other_client, ndjson([event(2)])))

    assert token_row(other).accepted == 1
    assert ApiToken.objects.get(name="test-ingest").accepted == 1


# ---------------------------------------------------------------- a real server: chunked bodies


def server_database_url() -> str:
    """DATABASE_URL of the test database, for a server process of its own."""
    s = connection.settings_dict
    auth = quote(s["USER"] or "", safe="") + (
        ":" + quote(s["PASSWORD"], safe="") if s["PASSWORD"] else ""
    )
    host = s["HOST"] or ""
    if host.startswith("/"):  # a Unix socket folder, as the embedded server uses
        return f"postgresql://{auth}@/{s['NAME']}?host={quote(host, safe='')}"
    return f"postgresql://{auth}@{host}:{s['PORT'] or 5432}/{s['NAME']}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gunicorn_port(committed, tmp_path):
    """The app under gunicorn with its deploy config, on the test database; stopped after."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": server_database_url(),
        "SECRET_KEY": "test-only",
        "WEB_CONCURRENCY": "2",
        "INGEST_RATE_PER_MINUTE": "100000",
    }
    ensure_static_files(env)  # the server refuses to start without collectstatic's manifest
    log = (tmp_path / "gunicorn.log").open("wb")
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "clickpost_monitor.asgi:application",
            "-c",
            "clickpost_monitor/gunicorn_conf.py",
            "-b",
            f"127.0.0.1:{port}",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until_answering(server, port, tmp_path / "gunicorn.log")
        yield port
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def wait_until_answering(server: subprocess.Popen, port: int, log: Path) -> None:
    for _ in range(300):
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{log.read_text()[-3000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", URL)
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not answer within 30 seconds")


def post_chunked(port: int, token: str, chunks: list[bytes], **headers: str) -> tuple[int, dict]:
    """POST with Transfer-Encoding: chunked (no Content-Length, no Content-Type)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(
            "POST",
            URL,
            body=iter(chunks),
            headers={"Authorization": f"Bearer {token}", **headers},
            encode_chunked=True,
        )
        response = conn.getresponse()
        assert response.getheader("Content-Type").startswith("application/json")
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.slow
@COMMITTED
def test_chunked_bodies_without_content_length_are_read_whole(gunicorn_port, ingest_token):
    plain = ndjson([event(n) for n in range(300)])
    zipped = gzip.compress(ndjson([event(n) for n in range(300, 500)]))

    plain_answer = post_chunked(gunicorn_port, ingest_token, pieces(plain, 1000))
    gzip_answer = post_chunked(
        gunicorn_port, ingest_token, pieces(zipped, 777), **{"Content-Encoding": "gzip"}
    )

    assert plain_answer == (200, {"accepted": 300, "duplicates": 0, "rejected": 0, "errors": []})
    assert gzip_answer == (200, {"accepted": 200, "duplicates": 0, "rejected": 0, "errors": []})
    assert stored_count() == 500
    assert_rollups_equal_raw_counts()


# ---------------------------------------------------------------- concurrent shippers


@pytest.fixture
def slow_inserts(committed):
    """Each raw row takes a millisecond to insert, as on a busy disk, so that concurrent batches
    are surely inside their write statements at the same time."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN PERFORM pg_sleep(0.001); RETURN NEW; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER slow_insert BEFORE INSERT ON ingest_event "
            "FOR EACH ROW EXECUTE FUNCTION slow_insert()"
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER slow_insert ON ingest_event")
        cursor.execute("DROP FUNCTION slow_insert()")


@COMMITTED
def test_four_shippers_posting_the_same_events_at_once_store_each_once(slow_inserts, ingest_token):
    pool = [event(n, **({"event_id": f"c-{n}"} if n % 2 else {})) for n in range(120)]
    start = threading.Barrier(4)
    answers: list = []

    def shipper(seed: int) -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {ingest_token}")
        rng = random.Random(seed)
        batches = [rng.sample(pool, 80), list(reversed(pool)), rng.sample(pool, len(pool))]
        try:
            start.wait()
            for batch in batches:
                answers.append((post(client, ndjson(batch)), len(batch)))
        finally:
            connection.close()

    threads = [threading.Thread(target=shipper, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [a.status_code for a, _ in answers] == [200] * 12, [a.content[:300] for a, _ in answers]
    bodies = [json.loads(a.content) for a, _ in answers]
    assert sum(b["accepted"] for b in bodies) == len(pool)
    assert sum(b["accepted"] + b["duplicates"] for b in bodies) == sum(n for _, n in answers)
    assert stored_count() == len(pool)
    assert_rollups_equal_raw_counts()
