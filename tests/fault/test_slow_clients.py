"""Slow clients cannot stop the deployed server (issue 13, #3): gunicorn as the README runs it
(clickpost_monitor/gunicorn_conf.py, production settings, no proxy in front), 200 connections
held for 20 s, half trickling header bytes and half trickling ingest bodies. Every probe of the
login page and of ingest meanwhile must succeed within a 1 s client timeout.

Before (sync workers) every probe timed out: see docs/RELIABILITY.md, "Slow clients"."""

from __future__ import annotations

import json

import pytest

from tests.fault import slow_clients
from tests.fault.harness import Gunicorn, app_env, manage

pytestmark = pytest.mark.slow

MAKE_TOKEN = (
    "from tokens.auth import create_token; "
    "print(create_token(name='slow-clients', scopes=['ingest'])[1])"
)


def test_200_slow_clients_for_20_s_leave_the_login_page_and_ingest_answering(fault_db, tmp_path):
    env = app_env(
        fault_db.url,
        WEB_CONCURRENCY="2",
        INGEST_RATE_PER_MINUTE="100000",
        REQUEST_BODY_SECONDS="60",  # the slow uploads are held to the end, not answered 408
        REQUEST_HEADER_SECONDS="60",  # and the slow heads, not closed (test_edge_limits.py)
    )
    token = manage(env, "shell", "--no-imports", "-c", MAKE_TOKEN).strip()
    server = Gunicorn(env, tmp_path / "gunicorn.log")
    try:
        results, held = slow_clients.run(
            base_url=server.url, port=server.port, token=token, clients=200, seconds=20
        )
    finally:
        server.stop()

    assert held == 200, "some slow clients were cut off early: the test did not hold them"
    for name in ("login page", "ingest"):
        assert len(results.outcomes[name]) >= 10, results.summary(name, 200)
        # Every probe answers 200 within 1 s; one late probe of each kind is allowed for the
        # shared machine's scheduling (before the fix every single probe timed out).
        failed = results.failures(name, 200)
        assert len(failed) <= 1 and set(failed) <= {"ReadTimeout"}, json.dumps(results.outcomes)
