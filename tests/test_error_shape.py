"""One error shape for the whole API (README "Errors", the OpenAPI `ErrorOut`): every refusal,
whoever answers it (DRF, a read parameter, Django before any view, a protocol door, the ASGI
layer), is `{"error": str, "detail": {field: reasons}}`, plus `retry_after` when a Retry-After
is sent. The ingest outcome listing each rejected event is not an error body (SPEC "Ingest")."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tokens.auth import create_token

pytestmark = pytest.mark.django_db


def assert_shape(response, status: int, *, field: str | None = None) -> dict:
    assert response.status_code == status, response.content[:300]
    body = response.json()
    assert set(body) <= {"error", "detail", "retry_after"}, body
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["detail"], dict), body
    assert all(isinstance(reasons, list | dict) for reasons in body["detail"].values()), body
    if field is None:
        assert body["detail"] == {}, body
    else:
        assert field in body["detail"] and field in body["error"], body
    if "retry_after" in body:
        assert response["Retry-After"]
    return body


def client(*scopes: str) -> APIClient:
    api = APIClient()
    if scopes:
        secret = create_token(name="t", scopes=list(scopes))[1]
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return api


def test_a_bad_read_parameter_names_it():
    answer = client("read").get("/api/v1/stats/timeseries/", {"interval": "fortnight"})
    assert_shape(answer, 400, field="interval")


def test_a_bad_alert_rule_field_names_it():
    answer = client("admin").post("/api/v1/alerts/rules/", {"name": ""}, format="json")
    assert_shape(answer, 400, field="name")


@pytest.mark.parametrize(
    ("scopes", "status"), [((), 401), (("ingest",), 403)], ids=["no token", "wrong scope"]
)
def test_credentials_refused_say_why_with_no_field_at_fault(scopes, status):
    answer = client(*scopes).get("/api/v1/stats/timeseries/")
    body = assert_shape(answer, status)
    assert "detail" not in body["detail"]  # not DRF's {"detail": {"detail": ...}}


def test_an_unknown_event_an_unknown_path_and_a_wrong_method():
    reader = client("read")
    assert_shape(reader.get("/api/v1/events/999999999/"), 404)
    assert_shape(reader.get("/api/v1/nothing-here/"), 404)
    assert_shape(reader.delete("/api/v1/stats/timeseries/"), 405)


def test_an_ingest_body_refused_whole_by_the_generic_door_and_a_protocol_door():
    writer = client("ingest")
    assert_shape(writer.post("/api/v1/events/", "{nope", content_type="application/json"), 400)
    assert_shape(writer.post("/api/v1/events/", b"x", content_type="image/png"), 415)
    assert_shape(writer.post("/v1/logs", "{nope", content_type="application/json"), 400)
    assert_shape(writer.post("/betterstack/", b"\xc1", content_type="application/msgpack"), 400)


def test_the_per_event_ingest_answer_stays_the_batch_outcome():
    answer = client("ingest").post("/api/v1/events/", [{"endpoint": "x"}], format="json")
    assert answer.status_code == 400
    assert {"accepted", "duplicates", "rejected", "errors"} <= set(answer.json())


def test_django_refusals_before_any_view_have_the_same_shape(settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    query = "&".join(f"p{n}=1" for n in range(10))
    assert_shape(client("read").get(f"/api/v1/stats/timeseries/?{query}"), 400)
