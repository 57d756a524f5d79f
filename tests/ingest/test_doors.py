"""The protocol doors (ingest.doors): OTLP/HTTP logs, Loki push, Elasticsearch bulk, and the
token-health API. Each test posts what the protocol's clients send and reads what was stored."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import UTC, datetime, timedelta

import cramjam
import pytest
from django.utils import timezone
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from rest_framework.test import APIClient

from ingest.doors import loki
from ingest.models import Event
from tokens.auth import create_token
from tokens.health import token_health
from tokens.models import ApiToken

pytestmark = pytest.mark.django_db

WHEN = (timezone.now() - timedelta(minutes=30)).replace(microsecond=123000)
WHEN_NS = str(int(WHEN.timestamp()) * 10**9 + 123_000_000)
CANCEL_202 = {"endpoint": "/api/v1/cancel-order/", "http_status": 200, "code": 202, "awb": "W1"}
ORDER_503 = {"api": "order_create", "status_code": "503", "order_id": "O-9"}


def stored() -> list[dict]:
    return list(
        Event.objects.order_by("ts", "id").values(
            "ts", "endpoint", "code", "category", "is_error", "waybill", "order_id", "extra"
        )
    )


def token_row(name: str = "test-ingest") -> ApiToken:
    return ApiToken.objects.get(name=name)


def post(client, url: str, body: bytes, content_type: str, **headers):
    return client.generic("POST", url, body, content_type=content_type, **headers)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# ---------------------------------------------------------------- OTLP


def any_json(value) -> dict:
    """A Python value as OTLP JSON's AnyValue, the way the OpenTelemetry JS exporter writes it."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": attributes_json(value)}}
    if isinstance(value, list):
        return {"arrayValue": {"values": [any_json(item) for item in value]}}
    return {"stringValue": value}


def attributes_json(mapping: dict) -> list[dict]:
    return [{"key": key, "value": any_json(value)} for key, value in mapping.items()]


def otlp_json(*records: dict, resource: dict | None = None) -> bytes:
    resource = {"service.name": "checkout"} if resource is None else resource
    scope_logs = [{"scope": {"name": "clickpost-client"}, "logRecords": list(records)}]
    request = {"resourceLogs": [{"resource": {"attributes": attributes_json(resource)}}]}
    request["resourceLogs"][0]["scopeLogs"] = scope_logs
    return json.dumps(request).encode()


def record(body, *, attributes: dict | None = None, time_ns: str = WHEN_NS, **fields) -> dict:
    return {
        "timeUnixNano": time_ns,
        "severityText": "ERROR",
        "body": any_json(body),
        "attributes": attributes_json(attributes or {}),
        **fields,
    }


def test_otlp_kvlist_body_is_the_event_and_attributes_go_to_extra(ingest_client):
    body = otlp_json(record(CANCEL_202, attributes={"user_id": 42, "ratio": 0.5, "ok": True}))
    response = post(ingest_client, "/v1/logs", body, "application/json")
    assert response.status_code == 200
    assert response.json() == {}
    [event] = stored()
    assert event["ts"] == WHEN
    assert (event["endpoint"], event["code"], event["category"]) == (
        "order_cancel",
        202,
        "order_cancellation",
    )
    assert event["waybill"] == "W1"
    assert event["extra"] == {
        "service.name": "checkout",
        "severity": "ERROR",
        "user_id": 42,
        "ratio": 0.5,
        "ok": True,
    }


def test_otlp_string_body_holding_json_is_the_event_and_its_own_time_wins(ingest_client):
    own_time = (WHEN - timedelta(hours=1)).isoformat()
    body = otlp_json(record(json.dumps({**ORDER_503, "timestamp": own_time})))
    response = post(ingest_client, "/api/v1/otlp/v1/logs", body, "application/json")
    assert response.status_code == 200
    [event] = stored()
    assert event["ts"] == WHEN - timedelta(hours=1)
    assert (event["code"], event["category"], event["order_id"]) == (503, "server", "O-9")


def test_otlp_any_values_decode_nested_lists_and_string_ints(ingest_client):
    nested = {**CANCEL_202, "cp_id": 7, "response": {"meta": {"status": 202, "tags": ["a", 1]}}}
    body = otlp_json(record(nested), resource={"host.name": "web-1", "pid": 9})
    assert post(ingest_client, "/v1/logs", body, "application/json").status_code == 200
    event = Event.objects.get()
    assert event.cp_id == 7
    assert event.response == {"meta": {"status": 202, "tags": ["a", 1]}}
    assert event.extra["pid"] == 9


def test_otlp_observed_time_stands_in_when_the_record_has_no_time(ingest_client):
    body = otlp_json(record(CANCEL_202, time_ns="0", observedTimeUnixNano=WHEN_NS))
    assert post(ingest_client, "/v1/logs", body, "application/json").status_code == 200
    assert stored()[0]["ts"] == WHEN


def test_otlp_rejections_are_a_partial_success_not_an_error(ingest_client):
    body = otlp_json(record(CANCEL_202), record("GET /health 200"), record({"http_status": 500}))
    response = post(ingest_client, "/v1/logs", body, "application/json")
    assert response.status_code == 200
    partial = response.json()["partialSuccess"]
    assert partial["rejectedLogRecords"] == "2"
    assert partial["errorMessage"].startswith("2 of 3 log records rejected; log record 1: ")
    assert "endpoint: required" in partial["errorMessage"]
    assert len(stored()) == 1
    assert (token_row().accepted, token_row().rejected) == (1, 2)


def test_otlp_all_rejected_is_still_200_with_partial_success(ingest_client):
    response = post(ingest_client, "/v1/logs", otlp_json(record("hello")), "application/json")
    assert response.status_code == 200
    assert response.json()["partialSuccess"]["rejectedLogRecords"] == "1"


def test_otlp_retry_is_a_duplicate_and_still_a_success(ingest_client):
    body = otlp_json(record(CANCEL_202))
    for _ in range(2):
        response = post(ingest_client, "/v1/logs", body, "application/json")
        assert (response.status_code, response.json()) == (200, {})
    assert len(stored()) == 1
    assert (token_row().accepted, token_row().duplicates) == (1, 1)


def test_otlp_protobuf_request_gets_a_protobuf_reply(ingest_client):
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    resource_logs.resource.attributes.append(
        KeyValue(key="service.name", value=AnyValue(string_value="billing"))
    )
    logs = resource_logs.scope_logs.add().log_records
    good = logs.add(time_unix_nano=int(WHEN_NS), severity_text="WARN")
    good.body.string_value = json.dumps(ORDER_503)
    good.attributes.append(KeyValue(key="attempt", value=AnyValue(int_value=3)))
    good.trace_id = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
    logs.add(time_unix_nano=int(WHEN_NS)).body.string_value = "not an event"
    response = post(
        ingest_client, "/v1/logs", request.SerializeToString(), "application/x-protobuf"
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-protobuf"
    reply = ExportLogsServiceResponse.FromString(response.content)
    assert reply.partial_success.rejected_log_records == 1
    [event] = stored()
    assert event["ts"] == WHEN
    assert event["extra"] == {
        "service.name": "billing",
        "severity": "WARN",
        "trace_id": "0af7651916cd43dd8448eb211c80319c",
        "attempt": 3,
    }


def test_otlp_gzip_body_is_read(ingest_client):
    body = gzip.compress(otlp_json(record(CANCEL_202)))
    response = post(
        ingest_client, "/v1/logs", body, "application/json", HTTP_CONTENT_ENCODING="gzip"
    )
    assert response.status_code == 200
    assert len(stored()) == 1


def test_otlp_empty_request_is_a_success(ingest_client):
    for body in (b"", b"{}", b'{"resourceLogs": []}'):
        response = post(ingest_client, "/v1/logs", body, "application/json")
        assert (response.status_code, response.json()) == (200, {})
    response = post(ingest_client, "/v1/logs", b"", "application/x-protobuf")
    assert (response.status_code, response.content) == (200, b"")


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b'{"resourceLogs": [', "application/json", 400),
        (b'{"resourceLogs": {"oops": 1}}', "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b"\xff\xff\xff\xff", "application/x-protobuf", 400),
        (b"<logs/>", "application/xml", 415),
    ],
)
def test_otlp_body_that_cannot_be_decoded_is_refused_whole(
    ingest_client, body, content_type, status
):
    response = post(ingest_client, "/v1/logs", body, content_type)
    assert response.status_code == status
    assert response.json()["error"]
    assert token_row().last_error == response.json()["error"]
    assert not stored()


def test_otlp_batch_over_the_event_limit_is_413(ingest_client, settings):
    settings.INGEST_MAX_EVENTS = 2
    body = otlp_json(*[record(CANCEL_202) for _ in range(3)])
    response = post(ingest_client, "/v1/logs", body, "application/json")
    assert response.status_code == 413
    assert not stored()


def test_doors_need_an_ingest_token(api, read_token):
    assert post(api, "/v1/logs", otlp_json(), "application/json").status_code == 401
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {read_token}")
    for url in ("/v1/logs", "/loki/api/v1/push", "/_bulk"):
        response = post(api, url, b"", "application/json")
        assert response.status_code == 403
        assert "ingest" in response.json()["error"]


# ---------------------------------------------------------------- Loki


def loki_push(*values: list, labels: dict | None = None) -> bytes:
    stream = {"stream": labels or {"app": "checkout", "env": "prod"}, "values": list(values)}
    return json.dumps({"streams": [stream]}).encode()


def test_loki_line_is_the_event_and_labels_and_metadata_go_to_extra(ingest_client):
    body = loki_push([WHEN_NS, json.dumps(CANCEL_202), {"trace_id": "abc"}])
    response = post(ingest_client, "/loki/api/v1/push", body, "application/json")
    assert response.status_code == 204
    assert response.content == b""
    [event] = stored()
    assert (event["ts"], event["endpoint"], event["code"]) == (WHEN, "order_cancel", 202)
    assert event["extra"] == {"app": "checkout", "env": "prod", "trace_id": "abc"}


def test_loki_partly_rejected_push_is_204_and_counted(ingest_client):
    body = loki_push([WHEN_NS, json.dumps(ORDER_503)], [WHEN_NS, "plain text line"])
    assert post(ingest_client, "/loki/api/v1/push", body, "application/json").status_code == 204
    assert (token_row().accepted, token_row().rejected) == (1, 1)
    assert "event 1: endpoint: required" in token_row().last_error


def test_loki_all_rejected_push_is_400_with_the_counts(ingest_client):
    body = loki_push([WHEN_NS, "hello 1"])
    response = post(ingest_client, "/loki/api/v1/push", body, "application/json")
    assert response.status_code == 400
    reply = response.json()
    assert (reply["accepted"], reply["rejected"]) == (0, 1)
    assert set(reply["errors"][0]["errors"]) == {"endpoint", "http_status"}
    assert reply["error"].startswith("1 of 1 lines rejected")


def test_loki_snappy_protobuf_push_is_read(ingest_client):
    push = loki.PushRequest()
    stream = push.streams.add(labels='{app="checkout", note="say \\"hi\\""}')
    entry = stream.entries.add(line=json.dumps(ORDER_503))
    entry.timestamp.seconds, entry.timestamp.nanos = int(WHEN.timestamp()), 123_000_000
    entry.structuredMetadata.add(name="pod", value="api-1")
    body = bytes(cramjam.snappy.compress_raw(push.SerializeToString()))
    response = post(ingest_client, "/loki/api/v1/push", body, "application/x-protobuf")
    assert response.status_code == 204
    [event] = stored()
    assert (event["ts"], event["code"]) == (WHEN, 503)
    assert event["extra"] == {"app": "checkout", "note": 'say "hi"', "pod": "api-1"}


def test_loki_gzip_json_and_empty_push_are_accepted(ingest_client):
    body = gzip.compress(loki_push([WHEN_NS, json.dumps(ORDER_503)]))
    response = post(
        ingest_client, "/loki/api/v1/push", body, "application/json", HTTP_CONTENT_ENCODING="gzip"
    )
    assert response.status_code == 204
    empty = post(ingest_client, "/loki/api/v1/push", b'{"streams": []}', "application/json")
    assert empty.status_code == 204
    assert len(stored()) == 1


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b'{"streams": [', "application/json", 400),
        (b'{"streams": [{"stream": {}, "values": [["1"]]}]}', "application/json", 400),
        (b'{"streams": "no"}', "application/json", 400),
        (b"not snappy", "application/x-protobuf", 400),
        (b"a=1", "text/csv", 415),
    ],
)
def test_loki_body_that_is_not_a_push_is_refused_whole(ingest_client, body, content_type, status):
    response = post(ingest_client, "/loki/api/v1/push", body, content_type)
    assert response.status_code == status
    assert "error" in response.json()


def test_loki_snappy_bomb_is_refused_before_inflating(ingest_client, settings):
    settings.INGEST_MAX_BYTES = 4096
    body = bytes(cramjam.snappy.compress_raw(b"x" * 100_000))
    response = post(ingest_client, "/loki/api/v1/push", body, "application/x-protobuf")
    assert response.status_code == 413


def test_loki_label_syntax_is_parsed():
    labels = loki.parse_labels('{app="a", path="C:\\\\logs", msg="l1\\nl2", k_2="x,y"}')
    assert labels == {"app": "a", "path": "C:\\logs", "msg": "l1\nl2", "k_2": "x,y"}


# ---------------------------------------------------------------- Elasticsearch


def bulk(*documents, action: str = '{"index":{"_index":"logs","_type":"events"}}') -> bytes:
    lines = []
    for document in documents:
        lines += [action, document if isinstance(document, str) else json.dumps(document), ""]
    return "\n".join(lines).encode()


def rsyslog_document(event: dict, **outer) -> dict:
    """What rsyslog's template makes: the Clickpost event is a JSON string in `message`."""
    envelope = {"@timestamp": WHEN.isoformat(), "host": "vm", "level": "error", "user_id": "42"}
    return {**envelope, "message": json.dumps(event), **outer}


@pytest.fixture
def es_client(api, ingest_token):
    api.credentials(HTTP_AUTHORIZATION=basic("elastic", ingest_token))
    return api


def test_bulk_takes_the_event_from_rsyslogs_message_and_the_envelope_to_extra(es_client):
    body = bulk(rsyslog_document(CANCEL_202), rsyslog_document(ORDER_503))
    response = post(es_client, "/_bulk", body, "application/json; charset=utf-8")
    assert response.status_code == 200
    assert response["X-Elastic-Product"] == "Elasticsearch"
    reply = response.json()
    assert reply["errors"] is False
    assert [item["index"]["status"] for item in reply["items"]] == [201, 201]
    assert {item["index"]["_index"] for item in reply["items"]} == {"logs"}
    events = stored()
    assert [e["ts"] for e in events] == [WHEN, WHEN]
    assert sorted(e["code"] for e in events) == [202, 503]
    assert events[0]["extra"] == {"host": "vm", "level": "error", "user_id": "42"}


def test_bulk_document_that_is_an_event_is_taken_as_it_is(es_client):
    document = {**ORDER_503, "@timestamp": WHEN.isoformat(), "message": "gateway timeout"}
    body = bulk(document, action='{"index":{}}')
    response = post(es_client, "/clickpost-2026/_bulk", body, "application/x-ndjson")
    assert response.json()["items"][0]["index"]["_index"] == "clickpost-2026"
    [event] = stored()
    assert (event["ts"], event["code"]) == (WHEN, 503)
    assert Event.objects.get().message == "gateway timeout"


def test_bulk_inner_time_wins_over_the_envelope(es_client):
    own = WHEN - timedelta(days=1)
    document = rsyslog_document({**ORDER_503, "timestamp": own.isoformat()})
    assert post(es_client, "/_bulk", bulk(document), "application/json").status_code == 200
    assert stored()[0]["ts"] == own


def test_bulk_rejected_document_is_a_400_item_and_the_rest_are_stored(es_client):
    body = bulk(rsyslog_document(CANCEL_202), {"message": "hello"}, "{not json")
    response = post(es_client, "/_bulk", body, "application/json")
    assert response.status_code == 200
    reply = response.json()
    assert reply["errors"] is True
    statuses = [item["index"]["status"] for item in reply["items"]]
    assert statuses == [201, 400, 400]
    assert "endpoint: required" in reply["items"][1]["index"]["error"]["reason"]
    assert "not valid JSON" in reply["items"][2]["index"]["error"]["reason"]
    assert len(stored()) == 1


def test_bulk_names_every_rejected_item_past_the_hundred_listed(es_client):
    documents = [{"message": f"junk {n}"} for n in range(150)] + [rsyslog_document(ORDER_503)]
    reply = post(es_client, "/_bulk", bulk(*documents), "application/json").json()
    statuses = [item["index"]["status"] for item in reply["items"]]
    assert statuses == [400] * 150 + [201]


def test_bulk_retry_is_answered_noop(es_client):
    body = bulk(rsyslog_document(CANCEL_202))
    post(es_client, "/_bulk", body, "application/json")
    reply = post(es_client, "/_bulk", body, "application/json").json()
    assert reply["errors"] is False
    assert reply["items"][0]["index"]["status"] == 200
    assert reply["items"][0]["index"]["result"] == "noop"
    assert len(stored()) == 1


def test_bulk_create_update_and_delete_actions(es_client):
    document = json.dumps(rsyslog_document(ORDER_503))
    body = "\n".join(
        [
            '{"create":{"_index":"a","_id":"doc-1"}}',
            document,
            '{"delete":{"_index":"a","_id":"doc-0"}}',
            '{"update":{"_index":"a","_id":"doc-1"}}',
            '{"doc":{"x":1}}',
            "",
        ]
    ).encode()
    reply = post(es_client, "/_bulk", body, "application/x-ndjson").json()
    create, delete, update = reply["items"]
    assert create == {"create": create["create"]} and create["create"]["_id"] == "doc-1"
    assert create["create"]["status"] == 201
    assert delete["delete"]["status"] == 404
    assert update["update"]["status"] == 400
    assert reply["errors"] is True
    assert len(stored()) == 1


@pytest.mark.parametrize(
    "body",
    [b'{"index":{}}\n', b'{"bogus":{}}\n{}\n', b"not json\n{}\n"],
    ids=["no-document", "unknown-action", "garbage-action"],
)
def test_bulk_with_a_bad_action_line_is_refused_whole(es_client, body):
    response = post(es_client, "/_bulk", body, "application/json")
    assert response.status_code == 400
    assert "line 1" in response.json()["error"]
    assert not stored()


def test_bulk_with_a_type_that_is_not_json_is_415(es_client):
    response = post(es_client, "/_bulk", b"<docs/>", "application/xml")
    assert response.status_code == 415
    assert response["X-Elastic-Product"] == "Elasticsearch"


def test_bulk_empty_body_is_an_empty_reply(es_client):
    response = post(es_client, "/_bulk", b"", "application/json")
    assert response.status_code == 200
    assert response.json()["items"] == []


def test_bulk_takes_the_token_as_basic_user_name_too(api, ingest_token):
    api.credentials(HTTP_AUTHORIZATION=basic(ingest_token, ""))
    response = post(api, "/_bulk", bulk(rsyslog_document(ORDER_503)), "application/json")
    assert response.status_code == 200
    api.credentials(HTTP_AUTHORIZATION=basic("elastic", "wrong"))
    assert (
        post(api, "/_bulk", bulk(rsyslog_document(ORDER_503)), "application/json").status_code
        == 401
    )


def test_root_answers_elasticsearch_clients_with_node_info(api, ingest_token):
    for headers in (
        {"HTTP_AUTHORIZATION": basic("elastic", ingest_token)},
        {"HTTP_ACCEPT": "application/json"},
        {"HTTP_ACCEPT": "application/vnd.elasticsearch+json; compatible-with=8"},
    ):
        response = api.get("/", **headers)
        assert response.status_code == 200
        assert response["X-Elastic-Product"] == "Elasticsearch"
        info = response.json()
        assert info["version"]["number"].startswith("8.")
        assert info["tagline"] == "You Know, for Search"
    head = api.head("/", HTTP_AUTHORIZATION=basic("elastic", ingest_token))
    assert (head.status_code, head["X-Elastic-Product"]) == (200, "Elasticsearch")


def test_root_is_left_to_the_pages_for_browsers(api):
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    for headers in ({"HTTP_ACCEPT": browser}, {}):
        response = api.get("/", **headers)
        assert "X-Elastic-Product" not in response
        assert b"You Know, for Search" not in response.content


def test_root_with_a_wrong_basic_password_is_401(api):
    response = api.get("/", HTTP_AUTHORIZATION=basic("elastic", "wrong"))
    assert response.status_code == 401


def test_health_probes_answer_green_without_a_token(api):
    text = api.get("/_cat/health")
    assert text.status_code == 200
    assert " green " in text.content.decode()
    assert api.get("/_cat/health?format=json").json()[0]["status"] == "green"
    assert api.get("/_cluster/health").json()["status"] == "green"


# ---------------------------------------------------------------- token health


def test_token_health_lists_counts_and_last_error_without_secrets(
    ingest_client, ingest_token, read_client
):
    body = loki_push([WHEN_NS, json.dumps(ORDER_503)], [WHEN_NS, "oops"])
    post(ingest_client, "/loki/api/v1/push", body, "application/json")
    response = read_client.get("/api/v1/tokens/")
    assert response.status_code == 200
    rows = {row["name"]: row for row in response.json()}
    shipper = rows["test-ingest"]
    assert (shipper["accepted"], shipper["duplicates"], shipper["rejected"]) == (1, 0, 1)
    assert shipper["status"] == "errors"
    assert "endpoint: required" in shipper["last_error"]
    assert shipper["last_used_at"] is not None
    assert rows["test-read"]["status"] == "unused"
    assert "digest" not in shipper
    assert ingest_token not in response.content.decode()
    assert ApiToken.objects.get(name="test-ingest").digest not in response.content.decode()


def test_token_health_needs_a_session_or_read_token(ingest_client, django_user_model):
    assert APIClient().get("/api/v1/tokens/").status_code in (401, 403)
    assert ingest_client.get("/api/v1/tokens/").status_code == 403
    user = django_user_model.objects.create_user("ops", password="pw-for-tests-only")
    browser = APIClient()
    browser.force_login(user)
    assert browser.get("/api/v1/tokens/").status_code == 200


def test_token_status_follows_the_last_request(ingest_client):
    post(ingest_client, "/loki/api/v1/push", loki_push([WHEN_NS, "oops"]), "application/json")
    assert _status("test-ingest") == "errors"
    body = loki_push([WHEN_NS, json.dumps(ORDER_503)])
    post(ingest_client, "/loki/api/v1/push", body, "application/json")
    assert _status("test-ingest") == "ok"
    ApiToken.objects.filter(name="test-ingest").update(revoked_at=datetime.now(UTC))
    assert _status("test-ingest") == "revoked"


def test_token_health_counts_refused_requests_as_errors(api):
    _, secret = create_token(name="broken-shipper", scopes=["ingest"])
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    post(api, "/v1/logs", b"{oops", "application/json")
    [row] = [row for row in token_health() if row["name"] == "broken-shipper"]
    assert row["status"] == "errors"
    assert row["last_error"].startswith("body is not valid OTLP JSON")


def _status(name: str) -> str:
    return next(row["status"] for row in token_health() if row["name"] == name)


# ---------------------------------------------------------------- field discovery (OTLP, Loki)

WHEN_EPOCH = WHEN.timestamp()


def test_otlp_call_in_typed_attributes_is_found_and_not_copied_into_extra(ingest_client):
    attributes = {
        "endpoint": "/api/v1/cancel-order/",
        "http_status": 200,
        "code": 202,
        "awb": "W1",
        "response": {"meta": {"status": 202, "message": "mailed"}},
        "user_id": 42,
    }
    body = otlp_json(record("cancel call", attributes=attributes))
    response = post(ingest_client, "/v1/logs", body, "application/json")
    assert (response.status_code, response.json()) == (200, {})
    [event] = stored()
    assert (event["ts"], event["endpoint"], event["code"], event["waybill"]) == (
        WHEN,
        "order_cancel",
        202,
        "W1",
    )
    assert event["extra"] == {"service.name": "checkout", "severity": "ERROR", "user_id": 42}
    assert Event.objects.get().message == "cancel call"


def test_otlp_semantic_convention_names_are_read_as_their_fields(ingest_client):
    attributes = {"url.full": "https://api.clickpost.in/api/v2/track-order/", "awb": "W2"}
    attributes["http.response.status_code"] = 503
    response = post(ingest_client, "/v1/logs", otlp_json(record("", attributes=attributes)), "")
    assert response.json() == {}
    [event] = stored()
    assert (event["endpoint"], event["code"]) == ("tracking_status", 503)


def test_loki_line_with_a_trailing_json_object_and_metadata_is_one_event(ingest_client):
    """winston-loki's default format: `message {json}`, the same fields as metadata (text)."""
    fields = {**CANCEL_202, "response": {"meta": {"status": 202}}}
    metadata = {
        key: json.dumps(value) if isinstance(value, dict) else str(value)
        for key, value in fields.items()
    }
    line = f"cancel call {json.dumps(fields)}"
    response = post(
        ingest_client, "/loki/api/v1/push", loki_push([WHEN_NS, line, metadata]), "application/json"
    )
    assert response.status_code == 204, response.content
    [event] = stored()
    assert (event["endpoint"], event["code"], event["waybill"]) == ("order_cancel", 202, "W1")
    assert event["extra"] == {"app": "checkout", "env": "prod"}
    assert Event.objects.get().message == "cancel call"


def test_loki_labels_hold_the_call_as_python_logging_loki_tags_send_it(ingest_client):
    labels = {
        "app": "x",
        "severity": "info",
        "endpoint": "order_create",
        "http_status": "503",
        "waybill": "W3",
        "response": json.dumps({"meta": {"status": 503}}),
    }
    response = post(
        ingest_client,
        "/loki/api/v1/push",
        loki_push([WHEN_NS, "call failed"], labels=labels),
        "application/json",
    )
    assert response.status_code == 204, response.content
    [event] = stored()
    assert (event["ts"], event["endpoint"], event["code"], event["waybill"]) == (
        WHEN,
        "order_create",
        503,
        "W3",
    )
    assert event["extra"] == {"app": "x", "severity": "info"}


def test_pino_msg_is_the_message_and_not_kept_in_extra(ingest_client):
    body = json.dumps({**CANCEL_202, "timestamp": WHEN_EPOCH, "msg": "clickpost call"})
    assert post(ingest_client, "/api/v1/events/", body.encode(), "").status_code == 200
    assert Event.objects.get().message == "clickpost call"
    assert "msg" not in Event.objects.get().extra


# ---------------------------------------------------------------- Splunk HEC


def hec(*objects: dict, joiner: str = "") -> bytes:
    return joiner.join(json.dumps(item) for item in objects).encode()


@pytest.fixture
def splunk(api, ingest_token):
    api.credentials(HTTP_AUTHORIZATION=f"Splunk {ingest_token}")
    return api


@pytest.mark.parametrize("path", ["/services/collector", "/services/collector/event"])
def test_hec_concatenated_objects_with_object_and_text_events_are_stored(splunk, path):
    body = hec(
        {"time": WHEN_EPOCH, "host": "web-1", "event": CANCEL_202},
        {"time": f"{WHEN_EPOCH:.3f}", "event": json.dumps(ORDER_503), "fields": {"env": "prod"}},
        {
            "time": WHEN_EPOCH,
            "event": "order failed " + json.dumps({"x_id": 1}),
            "fields": {"endpoint": "order_create", "http_status": 500, "awb": "W9"},
        },
    )
    response = post(splunk, path, body, "")
    assert (response.status_code, response.json()) == (200, {"text": "Success", "code": 0})
    events = {event["code"]: event for event in stored()}
    assert {code: (e["endpoint"], e["ts"]) for code, e in events.items()} == {
        202: ("order_cancel", WHEN),
        503: ("order_create", WHEN),
        500: ("order_create", WHEN),
    }
    assert events[202]["extra"] == {"host": "web-1"}
    assert events[503]["extra"] == {"env": "prod"}
    assert events[500]["waybill"] == "W9" and events[500]["extra"] == {"x_id": 1}


def test_hec_all_rejected_is_code_6_naming_the_event(splunk):
    response = post(splunk, "/services/collector", hec({"event": "no call here"}), "")
    assert response.status_code == 400
    reply = response.json()
    assert (reply["text"], reply["code"], reply["invalid-event-number"]) == (
        "Invalid data format",
        6,
        0,
    )


def test_hec_partial_rejection_is_hecs_code_6_not_success_and_the_valid_events_are_stored(
    splunk,
):
    body = hec(
        {"time": WHEN_EPOCH, "event": CANCEL_202},
        {"time": WHEN_EPOCH, "event": "no call here"},
        {"time": WHEN_EPOCH, "event": ORDER_503},
    )
    response = post(splunk, "/services/collector", body, "")
    assert response.status_code == 400
    reply = response.json()
    assert (reply["text"], reply["code"], reply["invalid-event-number"]) == (
        "Invalid data format",
        6,
        1,
    )
    assert (reply["accepted"], reply["duplicates"], reply["rejected"]) == (2, 0, 1)
    assert [error["index"] for error in reply["errors"]] == [1]
    assert sorted(event["code"] for event in stored()) == [202, 503]
    again = post(splunk, "/services/collector", body, "").json()  # the shipper's resend
    assert (again["accepted"], again["duplicates"], again["code"]) == (0, 2, 6)
    assert len(stored()) == 2


def test_hec_refusals_are_in_hecs_shape(api, ingest_token):
    missing = post(api, "/services/collector", hec({"event": CANCEL_202}), "")
    assert missing.status_code == 401 and missing.json()["code"] == 2
    wrong = post(
        api,
        "/services/collector",
        hec({"event": CANCEL_202}),
        "",
        HTTP_AUTHORIZATION="Splunk cpm_wrong",
    )
    assert wrong.status_code == 401 and wrong.json()["text"] == "Token is required"
    api.credentials(HTTP_AUTHORIZATION=f"Splunk {ingest_token}")
    broken = post(api, "/services/collector", b'{"event": ', "")
    assert broken.status_code == 400 and broken.json()["code"] == 6
    assert Event.objects.count() == 0


# ---------------------------------------------------------------- Seq


def test_seq_raw_events_use_properties_extra_prefix_and_the_rendered_template(api, ingest_token):
    events = {
        "Events": [
            {
                "Timestamp": WHEN.isoformat(sep=" "),
                "Level": "Warning",
                "MessageTemplate": "cancel of {Extra_awb} mailed",
                "Properties": {
                    "Extra_endpoint": "/api/v1/cancel-order/",
                    "Extra_http_status": 200,
                    "Extra_code": 202,
                    "Extra_awb": "W1",
                    "LoggerName": "app",
                },
            }
        ]
    }
    response = post(
        api,
        "/api/events/raw",
        json.dumps(events).encode(),
        "application/json",
        HTTP_X_SEQ_APIKEY=ingest_token,
    )
    assert (response.status_code, response.json()) == (201, {"MinimumLevelAccepted": None})
    [event] = stored()
    assert (event["ts"], event["endpoint"], event["code"], event["waybill"]) == (
        WHEN,
        "order_cancel",
        202,
        "W1",
    )
    assert event["extra"] == {"LoggerName": "app", "level": "Warning"}
    assert Event.objects.get().message == "cancel of W1 mailed"


def test_seq_clef_lines_with_crlf_and_the_api_key_in_the_query(api, ingest_token):
    lines = [
        {"@t": WHEN.isoformat(), "@mt": "call to {api}", "@l": "Error", **ORDER_503},
        {"@t": WHEN.isoformat(), "@m": "cancelled", **CANCEL_202},
    ]
    body = "\r\n".join(json.dumps(line) for line in lines).encode() + b"\r\n"
    response = post(
        api, f"/ingest/clef?apiKey={ingest_token}", body, "application/vnd.serilog.clef"
    )
    assert response.status_code == 201
    events = stored()
    assert sorted((e["endpoint"], e["code"]) for e in events) == [
        ("order_cancel", 202),
        ("order_create", 503),
    ]
    assert sorted(Event.objects.values_list("message", flat=True)) == [
        "call to order_create",
        "cancelled",
    ]


def test_seq_partial_rejection_is_seqs_error_form_not_201_and_the_valid_events_are_stored(
    api, ingest_token
):
    lines = [{"@t": WHEN.isoformat(), "@m": "cancelled", **CANCEL_202}, {"@m": "no call"}]
    body = "\n".join(json.dumps(line) for line in lines).encode()
    response = post(api, "/ingest/clef", body, "", HTTP_X_SEQ_APIKEY=ingest_token)
    assert response.status_code == 400
    reply = response.json()
    assert reply["Error"].startswith("1 of 2 events rejected; event 1: ")
    assert (reply["accepted"], reply["rejected"]) == (1, 1)
    assert [event["code"] for event in stored()] == [202]
    raw = {"Events": [{"Timestamp": WHEN.isoformat(), "Properties": CANCEL_202}, {}]}
    response = post(
        api, "/api/events/raw", json.dumps(raw).encode(), "", HTTP_X_SEQ_APIKEY=ingest_token
    )
    assert response.status_code == 400 and response.json()["accepted"] == 1


def test_seq_without_an_api_key_is_401(api):
    response = post(api, "/ingest/clef", b'{"@t": "2026-01-01T00:00:00Z"}', "")
    assert response.status_code == 401


# ---------------------------------------------------------------- Better Stack


def test_betterstack_msgpack_with_and_without_gzip_and_an_empty_flush(ingest_client):
    import msgpack

    maps = [
        {"dt": WHEN, "level": "info", "message": "cancel", **CANCEL_202},
        {
            "dt": WHEN.isoformat(),
            "message": "order",
            "context": {"runtime": {"line": 3}},
            **ORDER_503,
        },
    ]
    plain = msgpack.packb(maps[:1], datetime=True)
    response = post(ingest_client, "/betterstack/", plain, "application/msgpack")
    assert (response.status_code, response.json()["accepted"]) == (202, 1)
    packed = gzip.compress(msgpack.packb(maps[1:], datetime=True))
    response = post(
        ingest_client, "/betterstack", packed, "application/msgpack", HTTP_CONTENT_ENCODING="gzip"
    )
    assert (response.status_code, response.json()["accepted"]) == (202, 1)
    empty = post(
        ingest_client,
        "/betterstack/",
        gzip.compress(msgpack.packb([])),
        "application/msgpack",
        HTTP_CONTENT_ENCODING="gzip",
    )
    assert (empty.status_code, empty.json()) == (
        202,
        {"accepted": 0, "duplicates": 0, "rejected": 0, "errors": []},
    )
    events = {event["code"]: event for event in stored()}
    assert {code: (e["ts"], e["endpoint"]) for code, e in events.items()} == {
        202: (WHEN, "order_cancel"),
        503: (WHEN, "order_create"),
    }
    assert events[202]["extra"] == {"level": "info"}
    assert events[503]["extra"] == {"context": {"runtime": {"line": 3}}}


def test_betterstack_body_that_is_not_msgpack_is_400(ingest_client):
    response = post(ingest_client, "/betterstack/", b"\xc1\xc1", "application/msgpack")
    assert response.status_code == 400
    assert "msgpack" in response.json()["error"]


# ---------------------------------------------------------------- Logz.io


def test_logzio_ndjson_with_the_token_in_the_query_is_exactly_200(api, ingest_token):
    lines = [
        {"@timestamp": WHEN.isoformat(), "message": "cancel", "log_level": "INFO", **CANCEL_202},
        {"@timestamp": WHEN.isoformat(), "message": json.dumps(ORDER_503), "logger": "app"},
    ]
    body = "\n".join(json.dumps(line) for line in lines).encode()
    response = post(api, f"/logzio/?token={ingest_token}", body, "text/plain")
    assert response.status_code == 200
    assert response.json()["accepted"] == 2
    assert sorted((e["endpoint"], e["code"]) for e in stored()) == [
        ("order_cancel", 202),
        ("order_create", 503),
    ]


def test_logzio_without_its_query_token_is_401(api):
    response = post(api, "/logzio/?token=cpm_wrong", b"{}", "text/plain")
    assert response.status_code == 401


# ---------------------------------------------------------------- Python logging HTTPHandler


def test_http_handler_form_record_is_one_event_with_its_extras(api, ingest_token):
    import logging
    from urllib.parse import urlencode

    record = logging.makeLogRecord(
        {
            "name": "clickpost",
            "levelname": "WARNING",
            "levelno": 30,
            "msg": "cancel of %s",
            "args": ("W1",),
            "created": WHEN_EPOCH,
            "endpoint": "/api/v1/cancel-order/",
            "http_status": 200,
            "code": 202,
            "awb": "W1",
            "response": {"meta": {"status": 202, "message": "mailed"}},
        }
    )
    body = urlencode(record.__dict__).encode()  # exactly what HTTPHandler.emit posts
    api.credentials(HTTP_AUTHORIZATION=basic("app", ingest_token))
    response = post(api, "/api/v1/events/", body, "application/x-www-form-urlencoded")
    assert response.status_code == 200, response.content
    [event] = stored()
    assert (event["ts"], event["endpoint"], event["code"], event["waybill"]) == (
        WHEN,
        "order_cancel",
        202,
        "W1",
    )
    assert event["extra"] == {"logger": "clickpost", "level": "WARNING"}
    stored_event = Event.objects.get()
    assert stored_event.message == "cancel of W1"
    assert stored_event.response == {"meta": {"status": 202, "message": "mailed"}}


# ---------------------------------------------------------------- every door


def _three_events(door: str) -> tuple[bytes, str]:
    """A body of three valid events in the door's own protocol, and its Content-Type."""
    if door == "/v1/logs":
        return otlp_json(*[record(CANCEL_202) for _ in range(3)]), "application/json"
    if door == "/loki/api/v1/push":
        return loki_push(*[[WHEN_NS, json.dumps(CANCEL_202)]] * 3), "application/json"
    if door == "/_bulk":
        return bulk(CANCEL_202, CANCEL_202, CANCEL_202), "application/x-ndjson"
    if door == "/services/collector":
        return hec(*[{"time": WHEN_EPOCH, "event": CANCEL_202}] * 3), ""
    if door == "/api/events/raw":
        events = [{"Timestamp": WHEN.isoformat(), "Properties": CANCEL_202}] * 3
        return json.dumps({"Events": events}).encode(), "application/json"
    line = json.dumps({**CANCEL_202, "timestamp": WHEN.isoformat()})
    return "\n".join([line] * 3).encode(), "application/x-ndjson"


@pytest.mark.parametrize(
    "door",
    [
        "/api/v1/events/",
        "/v1/logs",
        "/loki/api/v1/push",
        "/_bulk",
        "/services/collector",
        "/api/events/raw",
        "/betterstack/",
        "/logzio/",
    ],
)
def test_every_door_applies_the_event_limit_as_a_413_and_stores_nothing(
    api, ingest_token, settings, door
):
    settings.INGEST_MAX_EVENTS = 2
    body, content_type = _three_events(door)
    url = f"{door}?token={ingest_token}" if door == "/logzio/" else door
    response = post(api, url, body, content_type, HTTP_AUTHORIZATION=f"Bearer {ingest_token}")
    assert response.status_code == 413
    assert "batch has 3 events; the limit is 2" in response.json()["error"]
    assert not stored()
    assert "the limit is 2" in token_row().last_error
