"""The one writer: a batch is stored whole or not at all, a duplicate is never stored or counted
twice, late events find (or make) their day's partition, and every rollup equals a count over
the raw rows, computed here in Python from the rows themselves."""

from __future__ import annotations

import importlib
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from django.db import DatabaseError, connection
from django.utils import timezone

from ingest import latency, partitions, store
from ingest.catalog import SEED_BY_CODE
from ingest.events import CleanEvent, clean_event
from ingest.models import Courier
from ingest.times import EPOCH
from tokens.models import ApiToken

# The rollups' buckets are counted from this origin (date_bin in store.py).
BUCKET_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)
QUARTER_HOUR = timedelta(minutes=15)
DAY = timedelta(days=1)
_CODE = ("endpoint", "category", "code")
_COURIER = ("cp_id", "category", "code")
_ACCOUNT = ("account_code", "category", "code")
# Each rollup: the columns it is keyed by after its bucket, and the bucket's width.
ROLLUP_DIMENSIONS = {
    "ingest_rollup_category": (("category",), QUARTER_HOUR),
    "ingest_rollup_code": (_CODE, QUARTER_HOUR),
    "ingest_rollup_courier": (_COURIER, QUARTER_HOUR),
    "ingest_rollup_account": (_ACCOUNT, QUARTER_HOUR),
    "ingest_rollup_code_daily": (_CODE, DAY),
    "ingest_rollup_courier_daily": (_COURIER, DAY),
    "ingest_rollup_account_daily": (_ACCOUNT, DAY),
}


def bucket_of(ts: datetime, width: timedelta) -> datetime:
    return ts - (ts - BUCKET_ORIGIN) % width


def raw_rows() -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ts, endpoint, category, code, is_error, cp_id, account_code, latency_ms "
            "FROM ingest_event"
        )
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def rollups_from_raw_rows(table: str) -> dict[tuple, tuple]:
    """What `table` must hold: the raw rows grouped by bucket and the table's key columns,
    the latency histogram made with the Python twin of the SQL bucket function."""
    columns, width = ROLLUP_DIMENSIONS[table]
    counts: dict[tuple, list] = defaultdict(lambda: [0, 0, 0.0, 0, Counter()])
    for row in raw_rows():
        if row["cp_id"] is None:
            row["cp_id"] = 0  # the rollups' "not given"
        key = (bucket_of(row["ts"], width), *(row[column] for column in columns))
        counts[key][0] += 1
        counts[key][1] += row["is_error"]
        if row["latency_ms"] is not None:
            counts[key][2] += row["latency_ms"]
            counts[key][3] += 1
            counts[key][4][latency.bucket_of(row["latency_ms"])] += 1
    return {key: (*value[:4], dict(value[4])) for key, value in counts.items()}


def rollup_contents(table: str) -> dict[tuple, tuple]:
    """Key (bucket, *key columns) -> (events, errors, latency_sum_ms, latency_count,
    {latency bucket: calls}), the key's stripes (`part`) added up as the reads add them."""
    columns, _ = ROLLUP_DIMENSIONS[table]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT bucket, {', '.join(columns)}, events, errors, latency_sum_ms, "
            f"latency_count, latency_hist FROM {table} ORDER BY part"
        )
        width = len(columns) + 1
        summed: dict[tuple, list] = defaultdict(lambda: [0, 0, 0.0, 0, Counter()])
        for row in cursor.fetchall():
            total = summed[tuple(row[:width])]
            for i, value in enumerate(row[width:-1]):
                total[i] += value
            total[4].update(latency.decode(row[-1]))
        return {key: (*value[:4], dict(value[4])) for key, value in summed.items()}


# The hourly latency rollups: table -> its one key column (histograms only).
LATENCY_DIMENSIONS = {
    "ingest_rollup_latency_endpoint": "endpoint",
    "ingest_rollup_latency_courier": "cp_id",
}
HOUR = timedelta(hours=1)


def latency_from_raw_rows(table: str) -> dict[tuple, dict[int, int]]:
    """What an hourly latency rollup must hold: (hour, key) -> {latency bucket: calls}, only
    for keys with a call with a latency."""
    column = LATENCY_DIMENSIONS[table]
    hist: dict[tuple, Counter] = defaultdict(Counter)
    for row in raw_rows():
        if row["latency_ms"] is not None:
            key = (bucket_of(row["ts"], HOUR), row[column] if row[column] is not None else 0)
            hist[key][latency.bucket_of(row["latency_ms"])] += 1
    return {key: dict(counter) for key, counter in hist.items()}


def latency_contents(table: str) -> dict[tuple, dict[int, int]]:
    """(hour, key) -> {latency bucket: calls}, the key's stripes added up."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT bucket, {LATENCY_DIMENSIONS[table]}, latency_hist FROM {table}")
        summed: dict[tuple, Counter] = defaultdict(Counter)
        for bucket, key, hist in cursor.fetchall():
            summed[(bucket, key)].update(latency.decode(hist))
        return {key: dict(counter) for key, counter in summed.items()}


def assert_rollups_equal_raw_counts() -> None:
    """Counts equal exactly; latency sums up to float rounding, which depends on the order of
    addition (PostgreSQL's is not ours) unless every latency is a multiple of a power of 2.
    The hourly latency rollups hold exactly the raw rows' histograms."""
    for table in LATENCY_DIMENSIONS:
        assert latency_contents(table) == latency_from_raw_rows(table), table
    for table in ROLLUP_DIMENSIONS:
        got, expected = rollup_contents(table), rollups_from_raw_rows(table)
        assert {key: (v[0], v[1], v[3], v[4]) for key, v in got.items()} == {
            key: (v[0], v[1], v[3], v[4]) for key, v in expected.items()
        }, table
        assert {key: v[2] for key, v in got.items()} == pytest.approx(
            {key: v[2] for key, v in expected.items()}, rel=1e-12
        ), table


def stored_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM ingest_event")
        return cursor.fetchone()[0]


def clean(at: datetime, n: int, **fields) -> CleanEvent:
    """A clean event at `at`; `n` varies the content (and so the derived event key)."""
    raw = {
        "timestamp": at.isoformat(),
        "endpoint": ("order_create", "tracking_register", "order_cancel")[n % 3],
        "http_status": (200, 503, 200, 200, 429)[n % 5],
        "code": (None, None, 330, 102, None)[n % 5],
        "cp_id": (4, 5, None)[n % 3],
        "courier": {0: "Delhivery", 1: "Blue Dart"}.get(n % 3, ""),
        "account_code": ("acme", "", "freshcart", "bookhive")[n % 4],
        # Multiples of 1/4 add up exactly whatever the order, so sums compare with ==.
        "latency_ms": None if n % 7 == 0 else 100 + n * 0.25,
        "waybill": f"WB{n:06d}",
        **fields,
    }
    # The store takes any day it is given (the retention horizon is the pipeline's rule).
    return clean_event(raw, now=timezone.now(), catalog=SEED_BY_CODE, horizon=EPOCH)


def month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def test_rollups_equal_counts_of_raw_rows_after_duplicates_late_events_and_three_months(db):
    now = timezone.now().astimezone(UTC).replace(microsecond=0) - timedelta(minutes=1)
    this_month = month_start(now)
    last_month = month_start(this_month - timedelta(days=1))
    month_before = month_start(last_month - timedelta(days=1))
    far_days = [month_before + timedelta(days=9, hours=3), last_month + timedelta(days=20)]
    # Another test may have committed these days' partitions: start without them (the drop is
    # rolled back with this test's transaction).
    with connection.cursor() as cursor:
        for at in far_days:
            cursor.execute(f"DROP TABLE IF EXISTS {partitions.partition_name(at.date())}")
    assert not {at.date() for at in far_days} & set(partitions.partition_days())

    live = [clean(now - timedelta(seconds=37 * n), n) for n in range(60)]
    hours_late = [clean(now - timedelta(hours=3, seconds=41 * n), 100 + n) for n in range(30)]
    days_late = [clean(now - timedelta(days=2, minutes=7 * n), 200 + n) for n in range(30)]
    old_months = [
        clean(at + timedelta(minutes=13 * n), 300 + n) for at in far_days for n in range(20)
    ]
    this_month_start = [clean(this_month + timedelta(seconds=n), 400 + n) for n in range(5)]
    # Sent after their neighbours' buckets were counted: the upsert adds to those rows.
    between = [clean(now - timedelta(seconds=37 * n + 5), 500 + n) for n in range(20)]

    results = [
        store.write_events(live[:40] + live[:5], token_id=None),  # repeats inside the batch
        store.write_events(live, token_id=None),  # a retry, plus 20 new
        store.write_events(hours_late + between + live[50:], token_id=None),
        store.write_events(days_late + old_months + this_month_start, token_id=None),
        store.write_events(old_months[::2] + days_late[:10], token_id=None),  # a late retry
    ]

    assert [(r.accepted, r.duplicates) for r in results] == [
        (40, 5),
        (20, 40),
        (50, 10),
        (75, 0),
        (0, 30),
    ]
    assert stored_count() == 60 + 30 + 20 + 30 + 40 + 5
    assert {at.date() for at in far_days} <= set(partitions.partition_days())
    for table in ROLLUP_DIMENSIONS:  # latencies are quarters: even the sums are exact
        assert rollup_contents(table) == rollups_from_raw_rows(table), table


def test_every_rollup_table_of_the_schema_is_checked_against_raw_rows(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename LIKE 'ingest\\_rollup%'"
        )
        assert {name for (name,) in cursor.fetchall()} == {
            *ROLLUP_DIMENSIONS,
            *LATENCY_DIMENSIONS,
        }


def test_daily_rollups_count_utc_days_and_the_category_rollup_quarter_hours(db):
    midnight = (
        (timezone.now() - timedelta(days=1))
        .astimezone(UTC)
        .replace(hour=0, minute=0, second=0, microsecond=0)
    )
    moments = [midnight - timedelta(microseconds=1), midnight, midnight + timedelta(hours=23)]
    store.write_events([clean(at, n) for n, at in enumerate(moments)], token_id=None)

    days: Counter = Counter()
    for (bucket, *_), (events, *_) in rollup_contents("ingest_rollup_code_daily").items():
        days[bucket] += events
    assert days == {midnight - DAY: 1, midnight: 2}
    quarters = {key[0] for key in rollup_contents("ingest_rollup_category")}
    assert quarters == {midnight - QUARTER_HOUR, midnight, midnight + timedelta(hours=23)}
    assert_rollups_equal_raw_counts()


def test_a_repeated_event_is_stored_once_and_counted_once(db):
    at = timezone.now() - timedelta(minutes=3)
    event = clean(at, 1)

    first = store.write_events([event, event, event], token_id=None)
    again = store.write_events([event], token_id=None)

    assert (first.accepted, first.duplicates) == (1, 2)
    assert (again.accepted, again.duplicates) == (0, 1)
    assert stored_count() == 1
    assert sum(events for events, *_ in rollup_contents("ingest_rollup_code").values()) == 1


def test_the_same_event_id_is_one_event_whatever_else_differs(db):
    at = timezone.now() - timedelta(minutes=3)
    first = clean(at, 1, event_id="shipper-42")
    resent = clean(at, 2, event_id="shipper-42")  # the shipper re-rendered other fields

    store.write_events([first], token_id=None)
    result = store.write_events([resent], token_id=None)

    assert (result.accepted, result.duplicates) == (0, 1)
    assert stored_count() == 1


def test_a_session_prepares_the_batch_statement_once_and_other_queries_never(db):
    """Django turns psycopg's prepared statements off (prepare_threshold None), which silently
    ignores `prepare=True` too: parsing and planning the batch statement every time cost more
    server CPU than a 10-event batch's work."""
    at = timezone.now() - timedelta(minutes=3)
    for n in range(3):
        store.write_events([clean(at, n)], token_id=None)
        Courier.objects.filter(cp_id=n).exists()  # an ORM query, asked as often
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert len(prepared) == 1  # not the ORM's query
    assert "INSERT INTO ingest_event" in prepared[0] and "token_counts AS" in prepared[0]


def test_an_empty_batch_writes_nothing(db):
    assert store.write_events([], token_id=None) == store.BatchResult(0, 0)
    assert stored_count() == 0


def test_a_batch_that_fails_mid_write_leaves_no_raw_row_and_no_count(db):
    """The last rollup refuses its rows after the raw rows and the other rollups were written."""
    at = timezone.now() - timedelta(minutes=3)
    kept = clean(at, 1)
    store.write_events([kept], token_id=None)
    before = {table: rollup_contents(table) for table in ROLLUP_DIMENSIONS}
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'refused by the test' USING ERRCODE = 'query_canceled'; "
            "END $$"
        )
        cursor.execute(
            "CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON ingest_rollup_account_daily "
            "FOR EACH ROW EXECUTE FUNCTION refuse()"
        )

    with pytest.raises(DatabaseError, match="refused by the test"):
        store.write_events([clean(at, n) for n in range(2, 50)], token_id=None)

    assert stored_count() == 1
    assert {table: rollup_contents(table) for table in ROLLUP_DIMENSIONS} == before


def test_the_courier_name_kept_is_the_latest_seen_for_its_id(db):
    at = timezone.now() - timedelta(hours=1)
    store.write_events(
        [
            clean(at, 1, cp_id=4, courier="Delhivery"),
            clean(at + timedelta(minutes=5), 2, cp_id=4, courier="Delhivery Express"),
            clean(at, 3, cp_id=9, courier="DTDC"),
            clean(at, 4, cp_id=11, courier=""),
        ],
        token_id=None,
    )
    store.write_events(
        [clean(at + timedelta(minutes=9), 5, cp_id=9, courier="DTDC Ltd")], token_id=None
    )

    names = dict(Courier.objects.values_list("cp_id", "name"))
    assert names == {4: "Delhivery Express", 9: "DTDC Ltd"}


def test_events_without_courier_or_account_count_under_zero_and_blank(db):
    at = timezone.now() - timedelta(minutes=3)
    store.write_events([clean(at, 1, cp_id=None, courier="", account_code="")], token_id=None)

    assert {key[1] for key in rollup_contents("ingest_rollup_courier")} == {0}
    assert {key[1] for key in rollup_contents("ingest_rollup_account")} == {""}
    assert_rollups_equal_raw_counts()


def test_a_late_event_makes_its_partition_and_lands_in_it(db):
    day = (timezone.now() - timedelta(days=400)).astimezone(UTC).date()
    at = datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC)
    assert day not in partitions.partition_days()

    store.write_events([clean(at, 1)], token_id=None)

    assert day in partitions.partition_days()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {partitions.partition_name(day)}")
        assert cursor.fetchone()[0] == 1


def test_token_use_adds_counts_and_keeps_the_last_error_until_the_next_one(db):
    token = ApiToken.objects.create(name="t", prefix="cpm_x", digest="d" * 64, scopes="ingest")

    store.record_token_use(token.pk, accepted=5, duplicates=1, rejected=2, error="bad event 3")
    store.record_token_use(token.pk, accepted=3, duplicates=0, rejected=0)

    token.refresh_from_db()
    assert (token.accepted, token.duplicates, token.rejected) == (8, 1, 2)
    assert token.last_error == "bad event 3"
    assert token.last_used_at is not None and token.last_used_at >= token.last_error_at


def test_the_histogram_migration_fills_rows_whose_raw_events_are_kept_and_no_others(db):
    migration = importlib.import_module("ingest.migrations.0008_fill_latency_histograms")
    now = timezone.now().astimezone(UTC).replace(microsecond=0) - timedelta(minutes=1)
    store.write_events([clean(now - timedelta(hours=n), n) for n in range(60)], token_id=None)
    filled = {table: rollup_contents(table) for table in ROLLUP_DIMENSIONS}
    with connection.cursor() as cursor:
        for table in ROLLUP_DIMENSIONS:
            cursor.execute(f"UPDATE {table} SET latency_hist = '{{}}'")
        # A row whose raw events are gone (retention) keeps no histogram rather than a part.
        cursor.execute(
            "UPDATE ingest_rollup_code SET latency_count = latency_count + 1 "
            "WHERE bucket = (SELECT min(bucket) FROM ingest_rollup_code) RETURNING bucket"
        )
        pruned = cursor.fetchall()
        for sql in migration.FILL:
            cursor.execute(sql)
    for table in ROLLUP_DIMENSIONS:
        got = {key: value[4] for key, value in rollup_contents(table).items()}
        want = {key: value[4] for key, value in filled[table].items()}
        if table == "ingest_rollup_code":
            for key in want:
                if (key[0],) in pruned:
                    want[key] = {}
        assert got == want, table
    assert pruned and any(value for value in want.values())


def test_the_hourly_latency_migration_fills_them_from_the_quarter_hours(db):
    """Migration 0013 fills the hourly latency rollups from the 15-minute rollups' histograms:
    the same rows the batch statement writes, and for hours whose raw events are gone too."""
    migration = importlib.import_module("ingest.migrations.0013_rollup_latency_hourly")
    now = timezone.now().astimezone(UTC).replace(microsecond=0) - timedelta(minutes=1)
    store.write_events(
        [clean(now - timedelta(minutes=20 * n), n) for n in range(60)], token_id=None
    )
    written = {table: latency_contents(table) for table in LATENCY_DIMENSIONS}
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM ingest_event")  # pruned: the rollups alone remain
        for table in LATENCY_DIMENSIONS:
            cursor.execute(f"DELETE FROM {table}")
        for hourly in migration.HOURLY:
            cursor.execute(migration.fill_sql(*hourly))
    assert {table: latency_contents(table) for table in LATENCY_DIMENSIONS} == written
    assert all(written.values())
