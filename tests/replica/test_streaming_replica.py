"""Pages, the read API and the weekly report read from a real streaming replica while it is
fresh, read the primary when it lags, stops or has not replayed the session's own write, and
return to it by themselves; never an error on the way.

One primary and one hot standby (`pg_basebackup -R`) on loopback, the app under gunicorn with
DATABASE_URL and DATABASE_REPLICA_URL. Which database answered is told two independent ways:
numbers that only one of them holds (the replica's replay is paused while the primary takes
more events), and the replica's own `pg_stat_activity` (the app's replica connection ran a
read-room query after the request began).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from datetime import UTC, datetime

import pytest
import requests

from tests.fault.harness import Gunicorn, app_env, clickpost_call, manage, wait_for
from tests.replica.cluster import ReplicatedPair

pytestmark = pytest.mark.slow

DATABASE = "cpm"
APP_NAME = "cpm-app-replica"  # application_name of the app's replica connection
MAX_LAG_SECONDS = 8
PASSWORD = "replica-test-pw-1"
SETUP = f"""
from django.contrib.auth.models import User
from tokens.auth import create_token
User.objects.create_superuser("ops", "ops@example.com", "{PASSWORD}")
print(create_token(name="shipper", scopes=["ingest"])[1])
print(create_token(name="reader", scopes=["read"])[1])
"""


@pytest.fixture(scope="module")
def pair():
    servers = ReplicatedPair(DATABASE)
    try:
        yield servers
    finally:
        servers.remove()


@pytest.fixture(scope="module")
def app(pair, tmp_path_factory):
    env = app_env(
        pair.primary.url(DATABASE),
        DATABASE_REPLICA_URL=pair.replica.url(DATABASE, application_name=APP_NAME),
        REPLICA_MAX_LAG_SECONDS=str(MAX_LAG_SECONDS),
        REPLICA_CHECK_SECONDS="1",
        WEB_CONCURRENCY="1",  # one worker: one verdict, one replica connection to watch
        LOG_LEVEL="INFO",
        DEBUG="1",  # static files from the finders: collectstatic's manifest takes 10 s to build
    )
    manage(env, "migrate", "--noinput", "-v0")
    ingest_token, read_token = manage(env, "shell", "-v0", "-c", SETUP).split()[-2:]
    server = Gunicorn(env, tmp_path_factory.mktemp("replica") / "gunicorn.log")
    server.ingest_token, server.read_token = ingest_token, read_token
    try:
        yield server
    finally:
        server.stop()


def ingest(app, batch: str, n: int) -> None:
    """`n` new calls through POST /api/v1/events/ (the ingest pipeline), on the primary."""
    now = datetime.now(UTC)
    body = "".join(json.dumps(clickpost_call(f"{batch}-{i}", at=now, n=i)) + "\n" for i in range(n))
    response = requests.post(
        f"{app.url}/api/v1/events/",
        data=body.encode(),
        headers={
            "Authorization": f"Bearer {app.ingest_token}",
            "Content-Type": "application/x-ndjson",
        },
        timeout=30,
    )
    assert response.status_code == 200 and response.json()["accepted"] == n, response.text


def calls_by_courier(app) -> Counter:
    """Calls per cp_id in the last 24 h, from the read API."""
    response = requests.get(
        f"{app.url}/api/v1/stats/breakdown/?by=cp_id&limit=50",
        headers={"Authorization": f"Bearer {app.read_token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return Counter({row["key"]: row["events"] for row in response.json()})


def weekly_calls(app) -> Counter:
    """Calls per cp_id this ISO week, from the streamed CSV (a server-side cursor)."""
    year, week, _ = datetime.now(UTC).isocalendar()
    response = requests.get(
        f"{app.url}/api/v1/reports/weekly/?week={year}-W{week:02d}&tz=UTC",
        headers={"Authorization": f"Bearer {app.read_token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    rows = csv.DictReader(io.StringIO(response.text))
    return Counter({int(row["cp_id"]): int(row["calls"]) for row in rows})


def stored_by_courier(server, database: str = DATABASE) -> Counter:
    """Counted by SQL on one server, independently of the app."""
    rows = server.query(database, "SELECT cp_id, count(*) FROM ingest_event GROUP BY cp_id")
    return Counter(dict(rows))


def log_in(app) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{app.url}/accounts/login/", timeout=30)
    assert page.status_code == 200 and "csrftoken" in session.cookies, app.log()
    response = session.post(
        f"{app.url}/accounts/login/",
        data={
            "username": "ops",
            "password": PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 302, response.text[:500]
    return session


def overview(app, session: requests.Session) -> str:
    response = session.get(f"{app.url}/", timeout=30)
    assert response.status_code == 200, response.text[:500]
    return response.text


def rename_courier(app, session: requests.Session, cp_id: int, name: str) -> None:
    """Rename a courier in the admin: a write of a table the pages read."""
    url = f"{app.url}/admin/ingest/courier/{cp_id}/change/"
    session.get(url, timeout=30)
    response = session.post(
        url,
        data={
            "cp_id": cp_id,
            "name": name,
            "_save": "Save",
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": url},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 302, response.text[:2000]


class ReplicaReads:
    """Whether the app's connection to the replica ran a read-room query since `mark()`: its last
    statement names a read-room table, or closes the server-side cursor of the weekly report."""

    def __init__(self, pair) -> None:
        self.replica = pair.replica
        self.since = None

    def mark(self) -> None:
        self.since = self.replica.query(DATABASE, "SELECT clock_timestamp()")[0][0]

    def seen(self) -> bool:
        rows = self.replica.query(
            DATABASE,
            "SELECT query FROM pg_stat_activity "
            "WHERE application_name = %s AND query_start >= %s"
            " AND (query LIKE %s OR query LIKE %s)",
            (APP_NAME, self.since, "%ingest\\_%", 'CLOSE "\\_django\\_curs\\_%'),
        )
        return bool(rows)


def paused_replay(pair) -> None:
    """A fresh commit replayed, then replay paused: the replica's numbers stop there, and its
    lag (time since that commit) stays under the limit for MAX_LAG_SECONDS."""
    pair.primary.query(DATABASE, "SELECT txid_current()")  # a commit record to replay
    pair.wait_replayed()
    pair.replica.query(DATABASE, "SELECT pg_wal_replay_pause()")
    wait_for(
        lambda: (
            pair.replica.query(DATABASE, "SELECT pg_get_wal_replay_pause_state()")[0][0] == "paused"
        ),
        "replay to pause",
    )


def courier_label_shown(page: str, name: str, cp_id: int) -> bool:
    return re.search(rf">\s*{re.escape(name)} \({cp_id}\)\s*<", page) is not None


@pytest.fixture
def sessions(app):
    """Two logged-in sessions of the same user (two browsers), closed at the end so that
    gunicorn's shutdown does not wait for their kept-alive connections."""
    writer, reader = log_in(app), log_in(app)
    yield writer, reader
    writer.close()
    reader.close()


def test_reads_follow_the_replica_and_fall_back_to_the_primary(pair, app, sessions):
    reads = ReplicaReads(pair)
    writer, reader = sessions

    # Fresh replica: the API, the weekly CSV and the pages read it, with the primary's numbers.
    ingest(app, "a", 60)
    pair.wait_replayed()
    first = stored_by_courier(pair.primary)
    assert sum(first.values()) == 60 and stored_by_courier(pair.replica) == first
    reads.mark()
    assert calls_by_courier(app) == first
    assert reads.seen(), "the read API did not read the replica"
    reads.mark()
    assert weekly_calls(app) == first
    assert reads.seen(), "the weekly report did not read the replica"
    reads.mark()
    assert courier_label_shown(overview(app, reader), "courier-1", 1)
    assert reads.seen(), "the overview did not read the replica"

    # Replay paused, more events on the primary: within the lag limit the replica still
    # answers, so the read API shows the numbers only the replica holds.
    paused_replay(pair)
    ingest(app, "b", 40)
    both = stored_by_courier(pair.primary)
    assert sum(both.values()) == 100
    assert calls_by_courier(app) == first

    # Read your writes: the session that renamed a courier reads the primary; another
    # session still reads the replica, which has not replayed the rename.
    rename_courier(app, writer, 1, "Renamed One")
    assert courier_label_shown(overview(app, writer), "Renamed One", 1)
    assert courier_label_shown(overview(app, reader), "courier-1", 1)

    # Past REPLICA_MAX_LAG_SECONDS the app reads the primary: every event, no error.
    wait_for(lambda: calls_by_courier(app) == both, "reads to move to the primary", timeout=30)
    assert courier_label_shown(overview(app, reader), "Renamed One", 1)
    assert "reading from the primary: replica lag" in app.log(tail=100_000)

    # Replay resumed: the replica catches up and answers again, for the writer too.
    pair.replica.query(DATABASE, "SELECT pg_wal_replay_resume()")
    pair.wait_replayed()

    def back_on_replica(session=None) -> bool:
        reads.mark()
        if session:
            overview(app, session)
        else:
            calls_by_courier(app)
        return reads.seen()

    wait_for(back_on_replica, "reads to return to the replica", timeout=30)
    assert calls_by_courier(app) == both
    wait_for(lambda: back_on_replica(writer), "the writer to return to the replica")

    # Replica stopped: the dashboard, the API and the report fall back to the primary.
    pair.replica.stop()
    assert calls_by_courier(app) == both
    assert weekly_calls(app) == both
    assert courier_label_shown(overview(app, reader), "Renamed One", 1)
    assert "reading from the primary: replica unreachable" in app.log(tail=100_000)

    # Replica started again: reads return to it by themselves.
    pair.replica.start()
    pair.wait_replayed()
    wait_for(back_on_replica, "reads to return to the restarted replica", timeout=30)
    assert calls_by_courier(app) == both
    assert courier_label_shown(overview(app, reader), "Renamed One", 1)

    log = app.log(tail=1_000_000)
    assert "Internal Server Error" not in log and "Traceback" not in log, log[-6000:]
    assert log.count("reading from the replica") >= 3  # back after the lag, the stop, the start
