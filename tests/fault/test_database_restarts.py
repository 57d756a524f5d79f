"""PostgreSQL stopped and started twice under three shippers: every acknowledged event is
stored exactly once, the rollups equal the raw counts, and the app recovers by itself."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import requests

from ingest import store
from tests.fault.harness import Gunicorn, Shipper, app_env, manage, wait_for

pytestmark = pytest.mark.slow

SHIPPERS = 3
OUTAGES = 2


# Inside the retention horizon whatever the date (older events are refused, SPEC).
_YESTERDAY = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT00:00:00Z").encode()


def _batches_acked(shippers: list[Shipper]) -> list[int]:
    return [s.batches_acked for s in shippers]


def _failures(shippers: list[Shipper]) -> list[int]:
    return [s.statuses[503] + s.statuses["connection error"] for s in shippers]


def _grew(now: list[int], before: list[int], *, by: int) -> bool:
    return all(n >= b + by for n, b in zip(now, before, strict=True))


def _outage(database, shippers: list[Shipper]) -> None:
    """Stop PostgreSQL until every shipper has been refused three times, start it, and wait until
    every shipper has had a batch stored again."""
    refused = _failures(shippers)
    database.stop()
    wait_for(
        lambda: _grew(_failures(shippers), refused, by=3),
        "every shipper to be refused while PostgreSQL is down",
    )
    stored = _batches_acked(shippers)
    database.start()
    wait_for(
        lambda: _grew(_batches_acked(shippers), stored, by=1),
        "every shipper to be stored again after the restart",
    )


def _rollups_match_raw(database) -> None:
    raw = database.query(
        "SELECT count(*), count(*) FILTER (WHERE is_error), coalesce(sum(latency_ms), 0) "
        "FROM ingest_event"
    )[0]
    for table in (rollup.table for rollup in store.ROLLUP_TABLES):
        events, errors, latency = database.query(
            f"SELECT sum(events), sum(errors), sum(latency_sum_ms) FROM {table}"
        )[0]
        # Float sums differ in the last digits with the order of addition.
        assert (events, errors) == raw[:2], f"{table}: {events, errors} != raw {raw[:2]}"
        assert latency == pytest.approx(raw[2], rel=1e-12), f"{table} latency"
    # Bucket by bucket too: the code rollup (its writers' stripes added up, as reads do)
    # against a grouping of the raw rows.
    mismatched = database.query(
        """
        WITH by_key AS (
            SELECT bucket, endpoint, category, code, sum(events)::bigint, sum(errors)::bigint
              FROM ingest_rollup_code GROUP BY 1, 2, 3, 4
        )
        (SELECT date_bin('15 minutes', ts, TIMESTAMPTZ '2000-01-01 00:00:00+00'), endpoint,
                category, code, count(*), count(*) FILTER (WHERE is_error)
           FROM ingest_event GROUP BY 1, 2, 3, 4
         EXCEPT SELECT * FROM by_key)
        UNION ALL
        (SELECT * FROM by_key
         EXCEPT SELECT date_bin('15 minutes', ts, TIMESTAMPTZ '2000-01-01 00:00:00+00'),
                       endpoint, category, code, count(*), count(*) FILTER (WHERE is_error)
                  FROM ingest_event GROUP BY 1, 2, 3, 4)
        """
    )
    assert mismatched == []


def test_postgres_restarts_lose_nothing_acknowledged(fault_db, tmp_path):
    env = app_env(fault_db.url)
    tokens = [
        manage(env, "create_token", f"shipper-{n}", "--scope", "ingest").strip()
        for n in range(SHIPPERS)
    ]
    server = Gunicorn(env, tmp_path / "gunicorn.log")
    try:
        workers = server.worker_pids()
        shippers = [Shipper(f"ship{n}", server.url, token) for n, token in enumerate(tokens)]
        stop = threading.Event()
        threads = [threading.Thread(target=s.run, args=(stop,)) for s in shippers]
        for thread in threads:
            thread.start()
        try:
            wait_for(lambda: min(_batches_acked(shippers)) >= 2, "the first batches")
            for _ in range(OUTAGES):
                _outage(fault_db, shippers)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=120)

        # The shippers saw only 200s and retriable refusals, all well-formed JSON.
        assert [s.problems for s in shippers] == [[]] * SHIPPERS, server.log()
        statuses = sum((s.statuses for s in shippers), Counter())
        assert set(statuses) <= {200, 429, 503}, statuses
        assert statuses[503] >= 3 * OUTAGES * SHIPPERS

        # Every acknowledged event is stored exactly once; nothing stored was never sent.
        stored = Counter(
            key.removeprefix("id:")
            for (key,) in fault_db.query("SELECT event_key FROM ingest_event")
        )
        acked = set().union(*(s.acked for s in shippers))
        sent = set().union(*(s.sent for s in shippers))
        assert acked - stored.keys() == set()
        assert stored.keys() - sent == set()
        assert [key for key, n in stored.items() if n > 1] == []
        _rollups_match_raw(fault_db)

        # Recovered without a restart: same master, same workers, and the next post just works.
        assert server.process.poll() is None
        assert server.worker_pids() == workers
        for n in range(4):
            response = requests.post(
                f"{server.url}/api/v1/events/",
                data=b'{"event_id": "after-%d", "timestamp": "%s", '
                b'"endpoint": "ndr", "http_status": 200}' % (n, _YESTERDAY),
                headers={"Authorization": f"Bearer {tokens[0]}"},
                timeout=30,
            )
            assert response.status_code == 200, response.text
        log = server.log()
        assert "Internal Server Error" not in log and "Traceback" not in log, log
    finally:
        server.stop()
