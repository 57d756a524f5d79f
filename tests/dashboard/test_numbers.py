"""The overview's numbers say what they mean: each test counts the stored calls itself (plain
Python over the list it stored) and compares with what the page shows."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.http import QueryDict
from django.utils import timezone

from dashboard import params
from ingest.catalog import SEED, SEED_BY_CODE, is_already_done
from ingest.models import CodeEntry
from stats import selectors
from stats.benign import benign_codes
from stats.reports import CSV_COLUMNS
from stats.weekly_summary import SUMMARY_COLUMNS
from stats.window import floor_to_grain
from tests.dashboard.test_pages import call, figure, store

pytestmark = pytest.mark.django_db

# The catalog's "already done" codes, from the seed's actions (counted apart from the column).
BENIGN_CODES = frozenset(info.code for info in SEED if is_already_done(info.action))


@pytest.fixture(autouse=True)
def plain_static_storage(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def user_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("ops", password="pw-123456789"))
    return client


def calls_at(minutes_ago: list[int], *, start: int, **fields) -> list[dict]:
    return [call(start + i, minutes_ago=m, **fields) for i, m in enumerate(minutes_ago)]


@pytest.fixture
def mixed(db) -> list[dict]:
    """Three couriers over the last 3 hours: a big healthy one, a small failing one, and one
    with benign duplicates."""
    big = calls_at(list(range(5, 175, 2)), start=0, cp_id=4, courier="Delhivery")
    big += calls_at([10, 70, 130], start=200, cp_id=4, courier="Delhivery", code=500)
    small = calls_at(list(range(3, 60, 2)), start=300, cp_id=7, courier="Aramex")
    small += calls_at(list(range(4, 60, 3)), start=400, cp_id=7, courier="Aramex", code=503)
    benign = calls_at(list(range(6, 50, 4)), start=500, cp_id=9, courier="DTDC", code=323)
    benign += calls_at(list(range(8, 90, 3)), start=600, cp_id=9, courier="DTDC")
    stored = big + small + benign
    store(*stored)
    return stored


def at(event: dict) -> datetime:
    return datetime.fromisoformat(event["timestamp"])


def is_error(event: dict) -> bool:
    return event.get("code", 200) >= 300 or event.get("http_status", 200) >= 400


# ---------------------------------------------------------------- the rate chart


def test_each_bar_says_its_errors_over_all_calls_of_its_bucket(user_client, mixed):
    fig = figure(user_client.get("/?range=24h"), "rate_figure")
    checked = 0
    for trace in fig["data"]:
        for x, text in zip(trace["x"], trace["text"], strict=True):
            got = re.search(r"([\d,]+) errors of ([\d,]+) calls", text)
            start = datetime.fromisoformat(x).replace(tzinfo=UTC)  # the default zone is UTC
            in_bucket = [e for e in mixed if start <= at(e) < start + timedelta(hours=1)]
            errors = sum(1 for e in in_bucket if is_error(e) and _category_name(e) == trace["name"])
            assert (int(got[1]), int(got[2].replace(",", ""))) == (errors, len(in_bucket))
            if errors:
                checked += 1
                share = f"{errors / len(in_bucket):.2%} of all calls"
                assert share in text
    assert checked >= 3


def _category_name(event: dict) -> str:
    code = event.get("code", 200)
    return "server" if code >= 500 else SEED_BY_CODE[code].category.replace("_", " ")


def test_the_last_hour_ends_now_and_its_last_bar_is_drawn_as_partial(user_client, mixed):
    now = timezone.now()
    response = user_client.get("/?range=1h")
    state = response.context["state"]
    assert state.window.start == floor_to_grain(now - timedelta(hours=1))
    assert abs((state.until - now).total_seconds()) < 60
    text = response.context["window_text"]
    assert text.endswith(f"{state.until:%H:%M} (UTC)")
    fig = figure(response, "rate_figure")
    last_x = max(x for trace in fig["data"] for x in trace["x"])
    assert datetime.fromisoformat(last_x).replace(tzinfo=UTC) <= state.until
    for trace in fig["data"]:
        # Minutes of this light traffic are under the volume floor (faded too): the hover
        # says which bar is the partial one.
        assert trace["marker"]["opacity"][-1] < 1
        assert "partial bucket" in trace["text"][-1]
        assert not any("partial bucket" in text for text in trace["text"][:-1])


def test_last_hour_tiles_count_exactly_the_elapsed_time_and_as_long_before(user_client, mixed):
    response = user_client.get("/?range=1h")
    state, totals = response.context["state"], response.context["totals"]
    start, now = state.window.start, state.until
    before = start - (now - start)
    assert totals["events"] == sum(1 for e in mixed if start <= at(e) < now)
    assert totals["errors"] == sum(1 for e in mixed if start <= at(e) < now and is_error(e))
    assert totals["previous_events"] == sum(1 for e in mixed if before <= at(e) < start)


def test_the_chart_groups_by_courier_when_asked_and_keeps_it_in_the_address(user_client, mixed):
    response = user_client.get("/?range=24h&group=cp_id")
    fig = figure(response, "rate_figure")
    assert {t["name"] for t in fig["data"]} == {"Delhivery", "Aramex", "DTDC"}
    page = response.content.decode()
    assert '<input type="hidden" name="group" value="cp_id">' in page
    aramex = next(t for t in fig["data"] if t["name"] == "Aramex")
    url = next(u for u in aramex["customdata"] if u)
    rows = user_client.get(url).context["rows"]
    assert rows and {r["cp_id"] for r in rows} == {7}


def test_a_bad_group_is_a_400_naming_it(user_client, db):
    response = user_client.get("/?group=planet")
    assert response.status_code == 400
    assert "group" in response.content.decode()


# ---------------------------------------------------------------- the heatmap and the ranking


def test_heatmap_colours_a_small_couriers_outage_darker_than_a_big_couriers_noise(
    user_client, mixed
):
    trace = figure(user_client.get("/?range=24h"), "heatmap_figure")["data"][0]
    server = trace["x"].index("server")
    by_courier = dict(zip(trace["y"], (row[server] for row in trace["z"]), strict=True))
    for name, cp_id in (("Aramex", 7), ("Delhivery", 4)):
        mine = [e for e in mixed if e["cp_id"] == cp_id]
        failing = sum(1 for e in mine if e.get("code", 200) >= 500)
        assert by_courier[name] == pytest.approx(failing / len(mine))
    assert by_courier["Aramex"] > 5 * by_courier["Delhivery"]


def test_courier_health_ranks_the_courier_most_above_its_usual_first(user_client, mixed):
    # Aramex's usual: 1 failure in 100 calls over the days before the window.
    old = [call(700 + i, minutes_ago=60 * 30 + i, cp_id=7, courier="Aramex") for i in range(99)]
    store(*old, call(799, minutes_ago=60 * 31, cp_id=7, courier="Aramex", code=503))
    health = user_client.get("/?range=24h").context["health"]
    first = health[0]
    aramex = [e for e in mixed if e["cp_id"] == 7]
    assert first["label"] == "Aramex" and first["events"] == len(aramex)
    assert first["usual_rate"] == pytest.approx(0.01)
    assert first["top_code"] == 503
    assert first["top_code_errors"] == Counter(e.get("code") for e in aramex)[503]


# ---------------------------------------------------------------- benign codes


def test_benign_codes_are_seeded_from_the_already_done_action_and_cleanly_described(db):
    assert set(CodeEntry.objects.filter(benign=True).values_list("code", flat=True)) == set(
        BENIGN_CODES
    )
    assert {303, 304, 305, 323, 600} <= BENIGN_CODES  # 305: webhook already registered
    assert benign_codes() == BENIGN_CODES
    assert "protected" not in CodeEntry.objects.get(code=325).meaning


def test_benign_errors_have_their_own_tile_and_still_count_as_errors(user_client, mixed):
    context = user_client.get("/?range=24h").context
    benign = sum(1 for e in mixed if e.get("code") in BENIGN_CODES)
    errors = sum(1 for e in mixed if is_error(e))
    assert context["benign_totals"]["errors"] == benign > 0
    assert context["totals"]["errors"] == errors  # SPEC's definition: still errors


def test_hiding_benign_codes_leaves_them_out_of_every_number(user_client, mixed):
    context = user_client.get("/?range=24h&benign=hide").context
    assert context["totals"]["errors"] == sum(
        1 for e in mixed if is_error(e) and e.get("code") not in BENIGN_CODES
    )
    assert context["totals"]["events"] == sum(1 for e in mixed if e.get("code") not in BENIGN_CODES)
    only = user_client.get("/?range=24h&benign=only").context
    assert only["totals"]["errors"] == sum(1 for e in mixed if e.get("code") in BENIGN_CODES)


# ---------------------------------------------------------------- codes page


def test_codes_page_shows_shares_of_all_calls_and_of_all_errors(user_client, mixed):
    rows = {r["code"]: r for r in user_client.get("/codes/?range=24h").context["rows"]}
    errors = sum(1 for e in mixed if is_error(e))
    count_503 = sum(1 for e in mixed if e.get("code") == 503)
    assert rows[503]["share_of_calls"] == pytest.approx(count_503 / len(mixed))
    assert rows[503]["share_of_errors"] == pytest.approx(count_503 / errors)
    assert rows[323]["benign"] and not rows[503]["benign"]
    assert sum(r["share_of_calls"] for r in rows.values()) == pytest.approx(1)


# ---------------------------------------------------------------- search and events


def test_prefix_search_lists_matching_waybills_and_orders(user_client, db):
    store(
        call(1, waybill="AWB-AA-1", order_id="ORD-URBA-1"),
        call(2, waybill="AWB-AA-1", order_id="ORD-URBA-1", code=330),
        call(3, waybill="AWB-BB-2", order_id="ORD-URBA-2"),
        call(4, waybill="AWB-CC-3", order_id="ORD-FRES-3"),
    )
    matches = user_client.get("/search/?q=ord-urba").context["matches"]
    assert sorted((m["kind"], m["value"], m["events"], m["errors"]) for m in matches) == [
        ("order_id", "ORD-URBA-1", 2, 1),
        ("order_id", "ORD-URBA-2", 1, 0),
    ]
    page = user_client.get("/search/?q=AWB-").content.decode()
    assert page.count('href="/waybills/AWB-') == 3
    assert user_client.get("/search/?q=ORD-URBA-1").status_code == 302  # exact: the timeline


def test_prefix_search_is_bounded_by_its_limit(user_client, db):
    store(*[call(n, waybill=f"LIM-{n:03d}") for n in range(30)])
    assert len(user_client.get("/search/?q=LIM-").context["matches"]) == 20


def test_events_page_counts_its_matches(user_client, mixed, monkeypatch):
    response = user_client.get("/events/?range=24h&errors_only=true")
    assert response.context["matches"] == {
        "count": sum(1 for e in mixed if is_error(e)),
        "capped": False,
    }
    monkeypatch.setattr(selectors, "COUNT_CAP", 10)
    page = user_client.get("/events/?range=24h").content.decode()
    assert f'data-count="{len(mixed)}"' in page  # no raw-only filter: the rollups, exact


def test_a_chart_click_opens_the_events_page_on_failures(user_client, mixed):
    fig = figure(user_client.get("/?range=24h"), "rate_figure")
    url = next(u for t in fig["data"] for u in t["customdata"] if u)
    response = user_client.get(url)
    assert response.context["errors_only"] is True
    assert 'name="errors_only" value="true" checked' in response.content.decode()


# ---------------------------------------------------------------- reports


def _week_of_calls(monday: datetime, days: int, *, start: int, code: int | None = None) -> list:
    extra = {"code": code} if code else {}
    return [
        call(start + d, timestamp=(monday + timedelta(days=d, hours=6)).isoformat(), **extra)
        for d in range(days)
    ]


def recent_weeks() -> tuple[datetime, datetime, str]:
    """The Mondays (UTC) of two whole weeks a few weeks back, inside the retention horizon,
    and the later one's ISO name."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    later = today - timedelta(days=today.weekday() + 21)
    year, week, _ = later.isocalendar()
    return later - timedelta(days=7), later, f"{year}-W{week:02d}"


def test_reports_page_warns_when_the_previous_week_is_incomplete(user_client, db):
    w10, w11, week = recent_weeks()
    store(*_week_of_calls(w10 + timedelta(days=2), 5, start=0), *_week_of_calls(w11, 7, start=20))
    page = user_client.get(f"/reports/?week={week}&tz=UTC").content.decode()
    assert "The previous week holds incomplete data" in page
    assert "5 of 7 days" in page
    edges = [w10 + timedelta(minutes=10), w11 - timedelta(minutes=20)]
    store(
        *_week_of_calls(w10, 2, start=40),
        *[call(50 + i, timestamp=t.isoformat()) for i, t in enumerate(edges)],
    )
    page = user_client.get(f"/reports/?week={week}&tz=UTC").content.decode()
    assert "previous week holds incomplete data" not in page


def test_summary_csv_has_totals_couriers_accounts_and_movers_by_absolute_change(user_client, db):
    w10, w11, week = recent_weeks()
    store(
        *_week_of_calls(w10, 7, start=0),
        *_week_of_calls(w11, 7, start=20),
        # 330 at Delhivery: 1 -> 3 (+2); 503 at Delhivery: 6 -> 0 (-6)
        call(50, code=330, timestamp=(w10 + timedelta(hours=3)).isoformat()),
        *[
            call(51 + i, code=330, timestamp=(w11 + timedelta(hours=i)).isoformat())
            for i in range(3)
        ],
        *[
            call(60 + i, http_status=503, timestamp=(w10 + timedelta(hours=i)).isoformat())
            for i in range(6)
        ],
    )
    response = user_client.get(f"/reports/summary.csv?week={week}&tz=UTC")
    assert response.status_code == 200
    text = response.content.decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == SUMMARY_COLUMNS
    total = rows[0]
    assert (total["section"], total["calls"], total["errors"]) == ("total", "10", "3")
    assert (total["prev_calls"], total["prev_errors"]) == ("14", "7")
    movers = [r for r in rows if r["section"] == "mover"]
    assert [(r["key"], r["change_errors"]) for r in movers] == [("503@4", "-6"), ("330@4", "2")]
    assert movers[1]["calls"] == "10"  # the courier's calls: the volume beside the change
    assert {r["section"] for r in rows} == {"total", "courier", "account", "mover"}
    spec = user_client.get(f"/api/v1/reports/weekly/?week={week}&tz=UTC")
    assert spec.status_code == 200  # SPEC's CSV is unchanged beside it (its own tests)
    assert CSV_COLUMNS[0] == "week" and len(CSV_COLUMNS) == 11


def test_range_presets_start_on_a_quarter_hour(db):
    now = datetime(2026, 3, 10, 20, 33, 12, tzinfo=UTC)
    state = params.read_page_params(QueryDict("range=1h"), now=now)
    assert (state.window.start, state.until) == (datetime(2026, 3, 10, 19, 30, tzinfo=UTC), now)


def test_summary_csv_gives_couriers_p50_and_p95_of_their_calls_with_a_latency(user_client, db):
    _, monday, week = recent_weeks()
    latencies = [100.0 * (n + 1) for n in range(20)]  # 100 .. 2,000 ms
    store(
        *[
            call(700 + n, latency_ms=ms, timestamp=(monday + timedelta(hours=n)).isoformat())
            for n, ms in enumerate(latencies)
        ],
        # Calls without a latency count for nothing (never as 0 ms), and a courier without any
        # latency has blank percentiles.
        *[call(800 + n, timestamp=(monday + timedelta(hours=n)).isoformat()) for n in range(20)],
        call(900, cp_id=9, courier="DTDC", timestamp=monday.isoformat()),
    )
    rows = list(
        csv.DictReader(
            io.StringIO(
                user_client.get(f"/reports/summary.csv?week={week}&tz=UTC").content.decode()
            )
        )
    )
    couriers = {row["key"]: row for row in rows if row["section"] == "courier"}
    assert float(couriers["4"]["p50_ms"]) == pytest.approx(1000, rel=0.05)  # rank 10 of 20
    assert float(couriers["4"]["p95_ms"]) == pytest.approx(1900, rel=0.05)  # rank 19 of 20
    assert couriers["9"]["p50_ms"] == couriers["9"]["p95_ms"] == ""
    assert rows[0]["p95_ms"] == couriers["4"]["p95_ms"]  # the total: the same calls
