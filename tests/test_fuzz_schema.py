"""Schema fuzzing: schemathesis generates requests for every operation of our own OpenAPI
document (/api/schema/) and sends them to the app in-process (WSGI), with a `read` token for
reads and an `ingest` token for ingest. Every answer must be a non-5xx that matches the schema.

Bounded for CI: FUZZ_EXAMPLES examples per operation (default 15), derandomized so a run is
repeatable; raise FUZZ_EXAMPLES for a deeper search. Findings are fixed with a regression test
in tests/test_fuzz_regressions.py.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from urllib.parse import urlencode

import msgpack
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    positive_data_acceptance,
)

from ingest.pipeline import RawItem, ingest_items
from tokens.auth import create_token

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
INGEST_METHODS = {"POST", "PUT"}

WSGI_APP = get_wsgi_application()
# Loaded when the tests are collected, so that every operation is its own test; a new endpoint
# in the schema is fuzzed without editing this file.
SCHEMA = schemathesis.openapi.from_wsgi("/api/schema/", WSGI_APP)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
# Not checked: that every schema-valid request is accepted. Some parameters are checked
# beyond what OpenAPI says (an IANA zone name, a pagination cursor, a body that must hold
# events); their 400 is documented, and that it matches the schema is checked.
EXCLUDED_CHECKS = [positive_data_acceptance, negative_data_rejection]


def _is_blank(value) -> bool:
    return value == "" or (isinstance(value, list) and "" in value)


def invalid_data_is_rejected(ctx, response, case):
    """Schemathesis's negative_data_rejection, less one convention of the read API: an empty
    optional query parameter (`?start=&category=`, as an HTML form sends it) means "not
    given", whatever its schema (minLength, enum, integer) would say of an empty string."""
    if any(_is_blank(value) for value in (case.query or {}).values()):
        return None
    return negative_data_rejection(ctx, response, case)


@pytest.fixture
def in_test_transaction(db, settings):
    """The app in-process, inside the test's transaction. As a server, the WSGI app closes the
    connection after each request, which would end the transaction: Django's test client
    suspends that the same way. Static files without collectstatic's manifest."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def tokens(db) -> dict[str, str]:
    return {
        "ingest": create_token(name="fuzz-ingest", scopes=["ingest"])[1],
        "read": create_token(name="fuzz-read", scopes=["read"])[1],
        "admin": create_token(name="fuzz-admin", scopes=["admin"])[1],
    }


@pytest.fixture
def some_events(db) -> None:
    """A few stored events, so that lists, timelines and reports have rows to show."""
    now = timezone.now()
    calls = [
        {
            "timestamp": (now - timedelta(hours=n)).isoformat(),
            "endpoint": "order_create",
            "http_status": status,
            "cp_id": 3,
            "courier": "Delhivery",
            "waybill": "WB-1",
            "order_id": "ORD-1",
            "account_code": "acme",
        }
        for n, status in enumerate([200, 503, 400, 200, 429])
    ]
    ingest_items([RawItem(call) for call in calls], token_id=None)


def test_the_schema_lists_the_api():
    assert {op.label for op in OPERATIONS} >= {"POST /api/v1/events/", "GET /api/v1/events/"}


def _schema_credentials(path: str, token: str) -> dict[str, str]:
    """The credential in the form the operation's first security scheme names: schemathesis's
    ignored-auth check strips that form and expects a refusal, so a token sent in another form
    the door also takes (a Seq door hears Bearer too) would be 'accepted without auth'."""
    if path.startswith(("/api/events", "/ingest")):
        return {"X-Seq-ApiKey": token}
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("mode", MODES, ids=lambda mode: mode.value)
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
def test_every_operation_answers_within_its_schema(
    operation, mode, tokens, some_events, in_test_transaction
):
    scope = "ingest" if operation.method.upper() in INGEST_METHODS else "read"
    if operation.path.startswith("/api/v1/alerts/"):
        scope = "admin"  # rules, channels, silences: admin writes, and reads what it manages
    headers = _schema_credentials(operation.path, tokens[scope])

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def answers_within_schema(case):
        case.call_and_validate(
            headers=headers,
            excluded_checks=EXCLUDED_CHECKS,
            additional_checks=[invalid_data_is_rejected],
        )

    answers_within_schema()


# ---------------------------------------------------------------- protocol doors
# The doors speak their protocols, not our OpenAPI document, so their bodies are generated here:
# random bytes, random JSON and msgpack values, and bodies shaped like each protocol with random
# values inside. Every answer must be a non-5xx, JSON (or Loki's empty 204), and never HTML.

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)  # msgpack carries 64 bits
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
FIELD_NAMES = st.sampled_from(
    [
        "timestamp",
        "time",
        "endpoint",
        "http_status",
        "code",
        "waybill",
        "message",
        "response",
        "msg",
        "dt",
        "@t",
        "@mt",
        "Extra_code",
        "event",
        "fields",
        "created",
        "args",
        "x",
    ]
)
OBJECTS = st.dictionaries(FIELD_NAMES | st.text(max_size=8), JSON_VALUES, max_size=8)


def _json(value) -> bytes:
    return json.dumps(value).encode()


DOOR_BODIES = {
    "/services/collector/event": st.lists(OBJECTS, max_size=4).map(
        lambda items: b"".join(_json(item) for item in items)
    ),
    "/api/events/raw": st.lists(OBJECTS, max_size=4).map(lambda items: _json({"Events": items})),
    "/ingest/clef": st.lists(OBJECTS, max_size=4).map(
        lambda items: b"\r\n".join(_json(item) for item in items)
    ),
    "/betterstack/": st.lists(OBJECTS, max_size=4).map(msgpack.packb),
    "/logzio/": st.lists(OBJECTS, max_size=4).map(
        lambda items: b"\n".join(_json(item) for item in items)
    ),
    "/api/v1/events/": st.dictionaries(FIELD_NAMES, st.text(max_size=30), max_size=8).map(
        lambda record: urlencode({"msg": "m", **record}).encode()
    ),
}
CONTENT_TYPES = {
    "/betterstack/": "application/msgpack",
    "/api/v1/events/": "application/x-www-form-urlencoded",
}


def _credentials(path: str, token: str) -> dict:
    if path.startswith("/services"):
        return {"HTTP_AUTHORIZATION": f"Splunk {token}"}
    if path.startswith(("/api/events", "/ingest")):
        return {"HTTP_X_SEQ_APIKEY": token}
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.mark.parametrize("path", list(DOOR_BODIES))
def test_every_door_answers_random_bodies_without_a_5xx(path, tokens):
    client = Client()
    url = f"{path}?token={tokens['ingest']}" if path == "/logzio/" else path
    headers = _credentials(path, tokens["ingest"])
    bodies = DOOR_BODIES[path] | st.binary(max_size=200) | JSON_VALUES.map(_json)

    @given(body=bodies)
    @settings(
        max_examples=EXAMPLES * 2,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def answers_without_a_5xx(body):
        response = client.generic(
            "POST", url, body, content_type=CONTENT_TYPES.get(path, ""), **headers
        )
        assert response.status_code < 500, (body, response.content)
        assert response["Content-Type"].startswith("application/json"), response.content
        json.loads(response.content)

    answers_without_a_5xx()
