"""Real log shippers, unmodified, ship generated Clickpost calls into the app under gunicorn.

Each client runs as ../shared/shippers/ shows (`make shipper-deps` installs them): syslog-ng and
rsyslog through their own `run.sh` with INPUT pointing at our calls; the npm and PyPI clients
through small drivers in clients/ that configure the library as that folder's `send.*` does and
log our calls instead of "hello 1". Then the database is asked directly: every call arrived once,
tagged as SPEC says, with its own time where the client keeps it and the client's fields in
`extra`; the client reported no failure. A client that is not installed fails its test, naming
it (as tests/shippers/test_doors_clients.py does); so does a missing SHIPPERS_DIR.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.shared import SHIPPERS_DIR
from tests.shared import require as require_shared
from tests.shippers.calls import EPOCH, Call, generate, write_jsonl

pytestmark = pytest.mark.slow

SHIPPERS_ENV = Path(os.environ.get("SHIPPERS_ENV") or "/tmp/shippers-env")
RSYSLOG = Path(os.environ.get("RSYS") or "/opt/rsyslog")
CLIENTS = Path(__file__).parent / "clients"
COUNT = 24  # three rounds of calls.CASES, every time form six times
ARRIVAL_DEADLINE_S = 60  # clients batch and retry; the database is polled until then


@dataclass
class Shipped:
    calls: list[Call]
    token_name: str
    started: datetime
    output: str


def require(installed: bool, *, what: str) -> None:
    require_shared(SHIPPERS_DIR)
    if not installed:
        pytest.fail(
            f"{what.upper()} IS NOT INSTALLED: `make shipper-deps` could not install it; "
            "this client cannot be tested",
            pytrace=False,
        )


def ship(live, name: str, command: list[str], env: dict, *, records=None) -> Shipped:
    """Write the calls (or `records` made of them) to INPUT, run the client, return what ran."""
    run = f"{name}-{uuid.uuid4().hex[:6]}"
    calls = generate(run, COUNT, now=datetime.now(UTC))
    workdir = Path(live.log_path.parent)
    rows = records(calls) if records else [call.event for call in calls]
    input_path = write_jsonl(workdir / f"{run}.jsonl", rows)
    token = live.create_token(run)
    started = datetime.now(UTC)
    done = subprocess.run(
        command,
        env={**os.environ, "INPUT": str(input_path), **env(token)},
        capture_output=True,
        text=True,
        timeout=180,
    )
    output = f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert done.returncode == 0, output
    for kept in re.findall(r"^work dir: (/tmp/\S+-ship\.\w+)", done.stdout, re.MULTILINE):
        shutil.rmtree(kept, ignore_errors=True)  # run.sh keeps its config and log there
    return Shipped(calls, run, started, output)


def arrived(live, shipped: Shipped, *, keeps_time: bool, extra: set[str]) -> None:
    """Every call stored once with SPEC's tags; the token counted them all, refused none."""
    rows = _wait_for(live, shipped.token_name, len(shipped.calls))
    stored = {row[0]: row[1:] for row in rows}
    assert sorted(stored) == sorted(f"id:{c.event_id}" for c in shipped.calls), shipped.output
    for call in shipped.calls:
        endpoint, code, category, is_error, ts, found_extra = stored[f"id:{call.event_id}"]
        assert (endpoint, code, category, is_error) == call.expected, call.event
        if keeps_time:
            assert ts == call.at, call.event
        else:  # the client stamps its own reading time (syslog-ng's format-json timestamp=)
            assert ts >= shipped.started - timedelta(seconds=5)
        assert extra <= set(found_extra), found_extra
    [(accepted, rejected, last_error)] = live.query(
        "SELECT accepted, rejected, last_error FROM ingest_apitoken WHERE name = %s",
        (shipped.token_name,),
    )
    assert (accepted, rejected, last_error) == (len(shipped.calls), 0, ""), shipped.output


def _wait_for(live, token_name: str, count: int) -> list[tuple]:
    statement = (
        "SELECT e.event_key, e.endpoint, e.code, e.category, e.is_error, e.ts, e.extra"
        " FROM ingest_event e JOIN ingest_apitoken t ON t.id = e.token_id WHERE t.name = %s"
    )
    deadline = time.monotonic() + ARRIVAL_DEADLINE_S
    rows = live.query(statement, (token_name,))
    while len(rows) < count and time.monotonic() < deadline:
        time.sleep(0.5)
        rows = live.query(statement, (token_name,))
    return rows


# ---------------------------------------------------------------- apt clients, via run.sh


@pytest.mark.parametrize("mode", ["ndjson", "array", "single", "raw"])
def test_syslog_ng_http_destination_ships_every_call_once(live, mode):
    http_module = list(Path("/usr/lib/syslog-ng").glob("*/libhttp.so"))
    require(bool(shutil.which("syslog-ng") and http_module), what="syslog-ng with http()")
    shipped = ship(
        live,
        f"sng-{mode}",
        ["bash", str(SHIPPERS_DIR / "syslog-ng" / "run.sh"), mode, "6"],
        lambda token: {
            "SHIP_URL": f"{live.url}/api/v1/events/",
            "SHIP_AUTH": f"Bearer {token}",
            "TIME_REOPEN": "1",
        },
    )
    extra = set() if mode == "raw" else {"host"}
    # raw sends the lines verbatim; the other modes re-render them with timestamp=${ISODATE}
    arrived(live, shipped, keeps_time=mode == "raw", extra=extra)


def test_rsyslog_omelasticsearch_ships_every_call_once_through_bulk(live):
    modules = RSYSLOG / "usr/lib/x86_64-linux-gnu/rsyslog"
    installed = (RSYSLOG / "usr/sbin/rsyslogd").exists() and (
        modules / "omelasticsearch.so"
    ).exists()
    require(installed, what="rsyslog with omelasticsearch")

    def rsyslog_lines(calls: list[Call]) -> list[dict]:
        # The JSON log line rsyslog tails; its template sends the call as the `message` string.
        levels = ("info", "error")
        return [
            {"level": levels[n % 2], "message": json.dumps(call.event), "user_id": n}
            for n, call in enumerate(calls)
        ]

    shipped = ship(
        live,
        "rsyslog",
        ["bash", str(SHIPPERS_DIR / "rsyslog-omelasticsearch" / "run.sh"), "6"],
        lambda token: {
            "SHIP_URL": live.url,
            "SHIP_USER": "elastic",
            "SHIP_PASS": token,
            "RESUME_INTERVAL": "1",
            "RSYS": str(RSYSLOG),
        },
        records=rsyslog_lines,
    )
    assert "error" not in shipped.output.split("work dir:")[-1].lower(), shipped.output
    arrived(live, shipped, keeps_time=True, extra={"host", "level", "user_id"})


# ---------------------------------------------------------------- npm and PyPI clients


def node(live, package: str, script: str, name: str, url: str, extra_env: dict, **kwargs):
    modules = SHIPPERS_ENV / package / "node_modules"
    installed = modules.is_dir() and (SHIPPERS_ENV / package / "package.json").exists()
    require(installed and shutil.which("node") is not None, what=f"node and {package}")
    return ship(
        live,
        name,
        ["node", str(CLIENTS / script)],
        lambda token: {
            "SHIP_URL": url,
            "SHIP_AUTH": f"Bearer {token}",
            "NODE_PATH": str(modules),
            **extra_env,
        },
        **kwargs,
    )


@pytest.mark.parametrize("gzip", ["0", "1"], ids=["json", "gzip"])
def test_opentelemetry_js_otlp_exporter_ships_every_call_once(live, gzip):
    def with_time(calls: list[Call]) -> list[dict]:
        return [
            {**call.event, "_at_ms": (call.at - EPOCH) // timedelta(milliseconds=1)}
            for call in calls
        ]

    url = f"{live.url}/v1/logs"
    shipped = node(
        live, "otlp-http-js", "otlp.js", f"otlp-{gzip}", url, {"GZIP": gzip}, records=with_time
    )
    assert "error" not in shipped.output.lower(), shipped.output
    arrived(live, shipped, keeps_time=True, extra={"service.name", "severity", "call.index"})


@pytest.mark.parametrize("batch", ["0", "1"], ids=["single", "batch"])
def test_winston_http_transport_ships_every_call_once(live, batch):
    url = f"{live.url}/api/v1/events/"
    shipped = node(live, "winston-http", "winston.js", f"winston-{batch}", url, {"BATCH": batch})
    assert "transport warn" not in shipped.output, shipped.output  # anything but 200 warns
    arrived(live, shipped, keeps_time=True, extra={"level", "service"})


@pytest.mark.parametrize("body_type", ["json", "ndjson"])
def test_pino_http_send_ships_every_call_once(live, body_type):
    url = f"{live.url}/api/v1/events/"
    env = {"BODY_TYPE": body_type}
    shipped = node(live, "pino-http-send", "pino.js", f"pino-{body_type}", url, env)
    arrived(live, shipped, keeps_time=True, extra={"level", "service"})
    messages = live.query(
        "SELECT DISTINCT e.message, e.extra ? 'msg' FROM ingest_event e"
        " JOIN ingest_apitoken t ON t.id = e.token_id WHERE t.name = %s",
        (shipped.token_name,),
    )
    # pino's msg is the message and so not kept in extra, unless the call carries its own
    # message: then msg is an ordinary extra field
    assert sorted(messages) == [("Too Many Requests", True), ("clickpost call", False)]


def test_python_logging_loki_ships_every_call_once(live):
    python = SHIPPERS_ENV / "python-logging-loki" / "venv" / "bin" / "python"
    installed = (SHIPPERS_ENV / "python-logging-loki" / "requirements.txt").exists()
    require(installed and python.exists(), what="python-logging-loki (PyPI)")
    shipped = ship(
        live,
        "loki",
        [str(python), str(CLIENTS / "loki.py")],
        lambda token: {
            "SHIP_URL": f"{live.url}/loki/api/v1/push",
            "SHIP_AUTH": f"Bearer {token}",
        },
    )
    assert "Logging error" not in shipped.output, shipped.output  # anything but 204 is one
    arrived(live, shipped, keeps_time=True, extra={"app", "severity", "logger", "shipper"})
