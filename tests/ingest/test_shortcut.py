"""A shipper's POST with its token is served past the page middleware and DRF's dispatch
(ingest.doors.middleware.IngestShortcutMiddleware), and under the server past Django's handler
too (ingest.doors.handler.LeanDoorHandler), and answered exactly as the full stack answers it:
status, every header, every byte of the body."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import datetime, timedelta
from unittest import mock

import pytest
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client, RequestFactory, override_settings
from django.utils import timezone

from clickpost_monitor.buffered import _call_wsgi
from ingest.doors.handler import LeanDoorHandler
from tokens.auth import create_token

pytestmark = pytest.mark.django_db

SHORTCUT = "ingest.doors.middleware.IngestShortcutMiddleware"
START = timezone.now() - timedelta(minutes=30)


class Events:
    """Fresh events, so that the two stacks each store theirs and answer alike."""

    def __init__(self) -> None:
        self.sent = 0

    def __call__(self) -> dict:
        self.sent += 1
        at = START + timedelta(milliseconds=self.sent)
        return {"timestamp": at.isoformat(), "endpoint": "create_order", "status_code": 200}


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def loki_push(event: dict) -> bytes:
    at = int(datetime.fromisoformat(event["timestamp"]).timestamp() * 10**9)
    return json.dumps(
        {"streams": [{"stream": {}, "values": [[str(at), json.dumps(event)]]}]}
    ).encode()


def ndjson(*values) -> bytes:
    return "".join(json.dumps(v) + "\n" for v in values).encode()


# name: (path, body from an event maker, content type, headers from the token)
CASES = {
    "generic": ("/api/v1/events/", lambda e: ndjson(e(), e()), "application/x-ndjson", {}),
    "generic gzip": (
        "/api/v1/events/",
        lambda e: gzip.compress(ndjson(e())),
        "application/x-ndjson",
        {"HTTP_CONTENT_ENCODING": "gzip"},
    ),
    "all rejected": ("/api/v1/events/", lambda e: b'[{"x": 1}]', "application/json", {}),
    "not JSON": ("/api/v1/events/", lambda e: b"{nope", "application/json", {}),
    "415": ("/api/v1/events/", lambda e: b"a,b", "text/csv", {}),
    "corrupt gzip": (
        "/api/v1/events/",
        lambda e: b"\x1f\x8bxx",
        "application/json",
        {"HTTP_CONTENT_ENCODING": "gzip"},
    ),
    "loki": ("/loki/api/v1/push", lambda e: loki_push(e()), "application/json", {}),
    "hec": ("/services/collector/event", lambda e: json.dumps({"event": e()}).encode(), "", {}),
    "hec not JSON": ("/services/collector", lambda e: b"{nope", "", {}),
    "seq": ("/api/events/raw", lambda e: json.dumps({"Events": []}).encode(), "", {}),
    "betterstack": ("/betterstack", lambda e: json.dumps([e()]).encode(), "application/json", {}),
}
CREDENTIAL = {  # the form each door's clients send
    "/services/collector/event": lambda t: {"HTTP_AUTHORIZATION": f"Splunk {t}"},
    "/services/collector": lambda t: {"HTTP_AUTHORIZATION": f"Splunk {t}"},
    "/api/events/raw": lambda t: {"HTTP_X_SEQ_APIKEY": t},
    "/betterstack": lambda t: {"HTTP_AUTHORIZATION": basic("x", t)},
}


def full_stack_client() -> Client:
    with override_settings(MIDDLEWARE=[m for m in settings.MIDDLEWARE if m != SHORTCUT]):
        client = Client()
        client.handler.load_middleware()
    return client


class LeanClient:
    """Posts as the server does (`buffered._call_wsgi`) to the lean handler. Like Django's test
    client, it keeps `close_old_connections` off the request signals: the test's transaction is
    the connection's, and a request must not close it."""

    def __init__(self) -> None:
        self.handler = LeanDoorHandler(WSGIHandler())

    def generic(self, method: str, path: str, body: bytes, **extra) -> tuple:
        environ = RequestFactory().generic(method, path, body, **extra).environ
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            status, headers, content = _call_wsgi(self.handler, environ)
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)
        text = sorted((n.decode("latin-1"), v.decode("latin-1")) for n, v in headers)
        return status, text, content


def answer(client: Client | LeanClient, token: str, case: str, events: Events) -> tuple:
    path, body, content_type, headers = CASES[case]
    credential = CREDENTIAL.get(path, lambda t: {"HTTP_AUTHORIZATION": f"Bearer {t}"})(token)
    response = client.generic(
        "POST", path, body(events), content_type=content_type, **headers, **credential
    )
    if isinstance(response, tuple):
        return response
    return response.status_code, sorted(response.headers.items()), response.content


@pytest.mark.parametrize("case", CASES)
def test_an_admitted_post_is_answered_as_the_full_stack_answers_it(case, ingest_token):
    events = Events()

    shortcut = answer(Client(), ingest_token, case, events)
    lean = answer(LeanClient(), ingest_token, case, events)
    full = answer(full_stack_client(), ingest_token, case, events)

    assert shortcut == full
    assert lean == full


def test_a_throttled_post_is_answered_as_the_full_stack_answers_it(settings):
    settings.INGEST_RATE_PER_MINUTE = 1
    events = Events()
    answers = []
    for client in (Client(), LeanClient(), full_stack_client()):
        _, token = create_token(name=f"throttled-{len(answers)}", scopes=["ingest"])
        answers.append([answer(client, token, "generic", events) for _ in range(2)])

    assert [status for status, _, _ in answers[0]] == [200, 429]
    assert answers[0] == answers[1] == answers[2]


def test_an_admitted_post_skips_sessions_csrf_and_the_user(ingest_token):
    refuse = mock.Mock(side_effect=AssertionError("a page's middleware ran"))
    with (
        mock.patch("django.contrib.sessions.middleware.SessionMiddleware.process_request", refuse),
        mock.patch("django.middleware.csrf.CsrfViewMiddleware.process_view", refuse),
        mock.patch(
            "django.contrib.auth.middleware.AuthenticationMiddleware.process_request", refuse
        ),
    ):
        response = answer(Client(), ingest_token, "generic", Events())

    assert response[0] == 200


@pytest.mark.parametrize(
    "credential",
    [{}, {"HTTP_AUTHORIZATION": "Bearer cpm_wrong"}, {"HTTP_AUTHORIZATION": "Digest x"}],
    ids=["none", "wrong", "another scheme"],
)
def test_a_post_the_door_does_not_admit_takes_the_full_stack(credential):
    with mock.patch("ingest.doors.http.IngestDoor.serve") as serve:
        response = Client().post("/api/v1/events/", b"[]", "application/json", **credential)

    assert response.status_code == 401
    serve.assert_not_called()


def test_a_read_token_is_not_admitted(read_token):
    with mock.patch("ingest.doors.http.IngestDoor.serve") as serve:
        response = Client().post(
            "/api/v1/events/", b"[]", "application/json", HTTP_AUTHORIZATION=f"Bearer {read_token}"
        )

    assert response.status_code == 403
    serve.assert_not_called()


@pytest.mark.parametrize(
    "credential",
    [{}, {"HTTP_AUTHORIZATION": "Bearer cpm_wrong"}, {"HTTP_AUTHORIZATION": "Digest x"}],
    ids=["none", "wrong", "another scheme"],
)
def test_the_lean_handler_gives_a_post_not_admitted_to_the_full_stack(credential):
    with mock.patch("ingest.doors.http.IngestDoor.serve") as serve:
        lean = LeanClient().generic(
            "POST", "/api/v1/events/", b"[]", content_type="application/json", **credential
        )
    full = answer_of(
        full_stack_client().post("/api/v1/events/", b"[]", "application/json", **credential)
    )

    assert lean[0] == 401
    assert lean == full
    serve.assert_not_called()


def test_the_lean_handler_gives_a_host_not_allowed_to_the_full_stack(ingest_token):
    credential = {"HTTP_AUTHORIZATION": f"Bearer {ingest_token}", "HTTP_HOST": "evil.example"}
    with mock.patch("ingest.doors.http.IngestDoor.serve") as serve:
        lean = LeanClient().generic(
            "POST",
            "/api/v1/events/",
            ndjson(Events()()),
            content_type="application/json",
            **credential,
        )
    full = answer_of(
        full_stack_client().post(
            "/api/v1/events/", ndjson(Events()()), "application/json", **credential
        )
    )

    assert lean[0] == 400
    assert lean == full
    serve.assert_not_called()


def answer_of(response) -> tuple:
    return response.status_code, sorted(response.headers.items()), response.content


def test_the_lean_handler_answers_an_admitted_post_without_djangos_handler(ingest_token):
    client = LeanClient()
    with mock.patch.object(client.handler, "django") as django:
        status, _, _ = answer(client, ingest_token, "generic", Events())

    assert status == 200
    django.assert_not_called()
