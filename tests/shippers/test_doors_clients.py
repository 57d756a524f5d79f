"""The protocol doors' real clients, unmodified, each logging three Clickpost calls its own way.

Every client here is pinned in this repository (requirements-clients.txt, clients/package.json)
and installed by `make shipper-deps`; one that is missing FAILS its test, it never skips. Each
driver in clients/ configures the library as docs/SHIPPERS.md tells a user to, and logs the calls
with the library's own structured mechanism (HEC event JSON, Seq properties, Better Stack
context, Logz.io and HTTPHandler `extra=`, OTLP attributes, winston meta, Loki tags). Then the
database is asked directly, by waybill: each call stored exactly once, with the endpoint, code,
http_status and time SPEC gives it. Clients that retry also run through a proxy that loses the
app's first reply after the app committed (flaky.py): the retry stores nothing twice.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.shippers.calls import EPOCH, Call, generate, write_jsonl
from tests.shippers.flaky import flaky_proxy

pytestmark = pytest.mark.slow

SHIPPERS_ENV = Path(os.environ.get("SHIPPERS_ENV") or "/tmp/shippers-env")
PYTHON = SHIPPERS_ENV / "door-clients-py" / "venv" / "bin" / "python"
NODE_MODULES = SHIPPERS_ENV / "door-clients-node" / "node_modules"
CLIENTS = Path(__file__).parent / "clients"
CALLS = 3
ARRIVAL_DEADLINE_S = 60
POLL_S = 0.3


@dataclass
class Shipped:
    calls: list[Call]
    token_name: str
    output: str


def python_client() -> str:
    if not PYTHON.exists():
        pytest.fail(
            f"THE PYPI DOOR CLIENTS ARE NOT INSTALLED ({PYTHON} is missing): run "
            "`make shipper-deps`; these real-client tests cannot run without them"
        )
    return str(PYTHON)


def node_modules() -> str:
    if not NODE_MODULES.is_dir():
        pytest.fail(
            f"THE NPM DOOR CLIENTS ARE NOT INSTALLED ({NODE_MODULES} is missing): run "
            "`make shipper-deps`; these real-client tests cannot run without them"
        )
    return str(NODE_MODULES)


def with_time(calls: list[Call]) -> list[dict]:
    """The calls with `_at_ms`, for drivers that hand the time to the library themselves."""
    return [{**c.event, "_at_ms": (c.at - EPOCH) // timedelta(milliseconds=1)} for c in calls]


def ship(
    live,
    name: str,
    command: list[str],
    env: Callable[[str], dict],
    *,
    records: Callable[[list[Call]], list[dict]] | None = None,
) -> Shipped:
    """Write three calls to INPUT, make a token, run the client to its end."""
    run = f"{name}-{uuid.uuid4().hex[:6]}"
    calls = generate(run, CALLS, now=datetime.now(UTC))
    rows = records(calls) if records else [call.event for call in calls]
    input_path = write_jsonl(live.log_path.parent / f"{run}.jsonl", rows)
    token = live.create_token(run)
    done = subprocess.run(
        command,
        env={**os.environ, "INPUT": str(input_path), "NODE_PATH": str(NODE_MODULES), **env(token)},
        capture_output=True,
        text=True,
        timeout=180,
    )
    output = f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert done.returncode == 0, output
    return Shipped(calls, run, output)


def stored_once(live, shipped: Shipped, *, retried: bool = False) -> None:
    """Each call's row, found by waybill: exactly one, with SPEC's endpoint, code, http_status
    and the call's own time; the token counted them all and refused none."""
    waybills = [call.event["waybill"] for call in shipped.calls]
    rows = _wait_for(live, waybills)
    found = {row[0]: row[1:] for row in rows}
    assert sorted(found) == sorted(waybills), (rows, shipped.output, live.log_tail())
    for call in shipped.calls:
        endpoint, code, http_status, ts, copies = found[call.event["waybill"]]
        expected_status = int(call.event.get("http_status") or call.event.get("status_code"))
        assert (endpoint, code, http_status) == (*call.expected[:2], expected_status), call.event
        assert ts == call.at, call.event
        assert copies == 1, call.event
    [(accepted, duplicates, rejected)] = live.query(
        "SELECT accepted, duplicates, rejected FROM ingest_apitoken WHERE name = %s",
        (shipped.token_name,),
    )
    assert (accepted, rejected) == (CALLS, 0), shipped.output
    if retried:
        assert duplicates >= 1, "the lost reply was not retried"


def _wait_for(live, waybills: list[str]) -> list[tuple]:
    statement = (
        "SELECT waybill, endpoint, code, http_status, min(ts), count(*) FROM ingest_event"
        " WHERE waybill = ANY(%s) GROUP BY waybill, endpoint, code, http_status"
    )
    deadline = datetime.now(UTC) + timedelta(seconds=ARRIVAL_DEADLINE_S)
    rows = live.query(statement, (waybills,))
    while len(rows) < len(waybills) and datetime.now(UTC) < deadline:
        subprocess.run(["sleep", str(POLL_S)], check=True)
        rows = live.query(statement, (waybills,))
    return rows


def _python(script: str) -> list[str]:
    return [python_client(), str(CLIENTS / script)]


def _node(script: str) -> list[str]:
    node_modules()
    return ["node", str(CLIENTS / script)]


# ---------------------------------------------------------------- Splunk HEC


def test_splunk_handler_stores_each_call_once(live):
    shipped = ship(
        live,
        "splunk",
        _python("splunk_hec.py"),
        lambda token: {"SHIP_HOST": "127.0.0.1", "SHIP_PORT": str(live.port), "SHIP_TOKEN": token},
    )
    assert "Exception in Splunk logging handler" not in shipped.output, shipped.output
    stored_once(live, shipped)


# ---------------------------------------------------------------- Seq


@pytest.mark.parametrize("mode", ["raw", "clef"])
def test_seqlog_stores_each_call_once(live, mode):
    shipped = ship(
        live,
        f"seq-{mode}",
        _python("seq_client.py"),
        lambda token: {"SHIP_URL": live.url, "SHIP_TOKEN": token, "SEQ_MODE": mode},
    )
    assert "Logging error" not in shipped.output, shipped.output
    stored_once(live, shipped)


# ---------------------------------------------------------------- Better Stack


def test_logtail_python_stores_each_call_once(live):
    shipped = ship(
        live,
        "logtail-py",
        _python("logtail_client.py"),
        lambda token: {"SHIP_URL": f"{live.url}/betterstack/", "SHIP_TOKEN": token},
    )
    assert "Failed to send" not in shipped.output, shipped.output
    stored_once(live, shipped)


def test_logtail_python_retry_of_a_lost_reply_stores_nothing_twice(live):
    with flaky_proxy(live.host, live.port) as proxy:
        shipped = ship(
            live,
            "logtail-py-retry",
            _python("logtail_client.py"),
            lambda token: {"SHIP_URL": f"{proxy.url}/betterstack/", "SHIP_TOKEN": token},
        )
    assert proxy.lost == 1 and proxy.posts >= 2, proxy
    stored_once(live, shipped, retried=True)


def test_logtail_node_stores_each_call_once(live):
    shipped = ship(
        live,
        "logtail-node",
        _node("logtail_node.js"),
        lambda token: {"SHIP_URL": f"{live.url}/betterstack/", "SHIP_TOKEN": token},
    )
    stored_once(live, shipped)


def test_logtail_node_retry_of_a_lost_reply_stores_nothing_twice(live):
    with flaky_proxy(live.host, live.port) as proxy:
        shipped = ship(
            live,
            "logtail-node-retry",
            _node("logtail_node.js"),
            lambda token: {"SHIP_URL": f"{proxy.url}/betterstack/", "SHIP_TOKEN": token},
        )
    assert proxy.lost == 1 and proxy.posts >= 2, proxy
    stored_once(live, shipped, retried=True)


# ---------------------------------------------------------------- Logz.io


def test_logzio_handler_stores_each_call_once_and_its_token_is_in_no_log_line(live):
    shipped = ship(
        live,
        "logzio",
        _python("logzio_client.py"),
        lambda token: {"SHIP_URL": f"{live.url}/logzio", "SHIP_TOKEN": token},
    )
    assert "Got " not in shipped.output and "not authorized" not in shipped.output, shipped.output
    stored_once(live, shipped)
    log = live.log_path.read_text(errors="replace")
    assert "POST /logzio/?token=[REDACTED]" in log  # the access line is there, redacted
    assert "cpm_" not in log


def test_logzio_handler_retry_of_a_lost_reply_stores_nothing_twice(live):
    with flaky_proxy(live.host, live.port) as proxy:
        shipped = ship(
            live,
            "logzio-retry",
            _python("logzio_client.py"),
            lambda token: {"SHIP_URL": f"{proxy.url}/logzio", "SHIP_TOKEN": token},
        )
    assert proxy.lost == 1 and proxy.posts >= 2, proxy
    stored_once(live, shipped, retried=True)


# ---------------------------------------------------------------- Python logging HTTPHandler


def test_stdlib_http_handler_stores_each_call_once(live):
    shipped = ship(
        live,
        "httphandler",
        _python("http_handler.py"),
        lambda token: {"SHIP_HOST": f"127.0.0.1:{live.port}", "SHIP_TOKEN": token},
    )
    assert "Logging error" not in shipped.output, shipped.output
    stored_once(live, shipped)
    messages = live.query(
        "SELECT message FROM ingest_event WHERE waybill = %s", (shipped.calls[0].event["waybill"],)
    )
    assert messages == [(f"Clickpost call to {shipped.calls[0].event['waybill']}",)]


# ---------------------------------------------------------------- structured fields: OTLP, Loki


def test_otlp_exporter_with_the_call_as_attributes_stores_each_call_once(live):
    shipped = ship(
        live,
        "otlp-attrs",
        _node("otlp_attributes.js"),
        lambda token: {"SHIP_URL": f"{live.url}/v1/logs", "SHIP_AUTH": f"Bearer {token}"},
        records=with_time,
    )
    assert "error" not in shipped.output.lower(), shipped.output
    stored_once(live, shipped)


def test_otlp_exporter_retry_of_a_lost_reply_stores_nothing_twice(live):
    with flaky_proxy(live.host, live.port) as proxy:
        shipped = ship(
            live,
            "otlp-attrs-retry",
            _node("otlp_attributes.js") + [],
            lambda token: {
                "SHIP_URL": f"{proxy.url}/v1/logs",
                "SHIP_AUTH": f"Bearer {token}",
                "WAIT_MS": "3000",
            },
            records=with_time,
        )
    assert proxy.lost == 1 and proxy.posts >= 2, (proxy, shipped.output)
    stored_once(live, shipped, retried=True)


@pytest.mark.parametrize("json_mode", ["0", "1"], ids=["protobuf", "json"])
def test_winston_loki_default_format_stores_each_call_once(live, json_mode):
    shipped = ship(
        live,
        f"winston-loki-{json_mode}",
        _node("winston_loki.js"),
        lambda token: {"SHIP_URL": live.url, "SHIP_TOKEN": token, "JSON": json_mode},
        records=with_time,
    )
    assert "loki connection error" not in shipped.output, shipped.output
    stored_once(live, shipped)


def test_winston_loki_retry_of_a_lost_reply_stores_nothing_twice(live):
    with flaky_proxy(live.host, live.port) as proxy:
        shipped = ship(
            live,
            "winston-loki-retry",
            _node("winston_loki.js"),
            lambda token: {"SHIP_URL": proxy.url, "SHIP_TOKEN": token, "WAIT_MS": "3000"},
            records=with_time,
        )
    assert proxy.lost == 1 and proxy.posts >= 2, (proxy, shipped.output)
    stored_once(live, shipped, retried=True)


def test_python_logging_loki_with_the_call_as_tags_stores_each_call_once(live):
    shipped = ship(
        live,
        "loki-tags",
        _python("loki_tags.py"),
        lambda token: {
            "SHIP_URL": f"{live.url}/loki/api/v1/push",
            "SHIP_AUTH": f"Bearer {token}",
        },
    )
    assert "Logging error" not in shipped.output, shipped.output
    stored_once(live, shipped)
