"""EXPLAIN (ANALYZE, BUFFERS) of every query the dashboard paths run, on a loaded database.

    python -m bench.explain        (a Django process; DATABASE_URL = the bench database)

Each path of `bench.reads.paths` (the overview's API queries, the drill-down, the weekly CSV and
the overview page itself) is requested once with Django's test client to warm up, then once
more inside CaptureQueriesContext, which records the SQL exactly as sent (with its values).
Each SELECT is explained twice (ANALYZE runs it: the second plan is the warm one) and kept.
A "Seq Scan" on a raw-event partition is flagged: no dashboard path may read the raw events
sequentially. Queries on Django's own tables (sessions, users, cache, tokens) are listed with
their time but not their plans.
"""

from __future__ import annotations

import re
import sys
import time

from bench import common
from bench.reads import paths

_SEQ_SCAN = re.compile(r"Seq Scan on (\w+)")
_EXEC_TIME = re.compile(r"Execution Time: ([0-9.]+) ms")
_PLAN_TIME = re.compile(r"Planning Time: ([0-9.]+) ms")
_PRODUCT_TABLES = ("ingest_event", "ingest_rollup", "ingest_courier", "ingest_codeentry")
_DECLARE = re.compile(r'^\s*DECLARE\s+"?[\w-]+"?\s+.*?\bCURSOR\b.*?\bFOR\b\s+', re.I | re.S)


def _client(scope_token: str):
    from django.contrib.auth import get_user_model
    from django.test import Client

    token_client = Client(HTTP_AUTHORIZATION=f"Bearer {scope_token}")
    session_client = Client()
    user, _ = get_user_model().objects.get_or_create(username="bench-explain")
    session_client.force_login(user)
    return token_client, session_client


def _fetch(client, path: str) -> int:
    response = client.get(path)
    if getattr(response, "streaming", False):
        b"".join(response.streaming_content)
    return response.status_code


def explain(sql: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        for _ in range(2):
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            plan = "\n".join(row[0] for row in cursor.fetchall())
    return plan


def explain_paths() -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tokens.auth import create_token

    name = connection.settings_dict["NAME"]
    note = common.database_note(name)
    _, secret = create_token(name=f"bench-explain-{time.time_ns()}", scopes=["read"])
    token_client, session_client = _client(secret)
    out = {}
    for key, spec in paths(note).items():
        client = session_client if spec.get("session") else token_client
        _fetch(client, spec["path"])
        with CaptureQueriesContext(connection) as captured:
            status = _fetch(client, spec["path"])
        queries = []
        for query in captured.captured_queries:
            sql = _DECLARE.sub("", query["sql"])
            if not re.match(r"\s*(SELECT|WITH)\b", sql, re.I):
                continue
            product = any(table in sql for table in _PRODUCT_TABLES)
            plan = explain(sql)
            scans = sorted(set(_SEQ_SCAN.findall(plan)))
            queries.append(
                {
                    "sql": sql,
                    "product": product,
                    "plan": plan if product else "",
                    "execution_ms": float(_EXEC_TIME.search(plan).group(1)),
                    "planning_ms": float(_PLAN_TIME.search(plan).group(1)),
                    "seq_scans": scans,
                    "raw_seq_scan": [s for s in scans if s.startswith("ingest_event")],
                }
            )
        out[key] = {"label": spec["label"], "status": status, "queries": queries}
    return {"database": name, "events": note["stored"], "paths": out}


def main() -> None:
    common.setup_django()
    result = explain_paths()
    step = f"explain_{result['database']}"
    common.save(step, result)
    flagged = [
        key for key, p in result["paths"].items() if any(q["raw_seq_scan"] for q in p["queries"])
    ]
    for key, p in result["paths"].items():
        ms = sum(q["execution_ms"] for q in p["queries"] if q["product"])
        common.log(
            f"explain {result['database']} {key}: HTTP {p['status']}, "
            f"{len(p['queries'])} queries, product queries {ms:.1f} ms"
        )
    if flagged:
        common.log(f"SEQUENTIAL SCAN OF RAW EVENTS on: {', '.join(flagged)}")
    sys.exit(0)


if __name__ == "__main__":
    main()
