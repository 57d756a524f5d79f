"""The dashboard pages: login is required, the address holds the view (filters reach the
numbers and the drill-down links), everything echoed is escaped, bad parameters give a 400 page
naming them. The figure builders (dashboard/charts.py) are tested without a database."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from dashboard import charts, params
from ingest.pipeline import RawItem, ingest_items
from stats.links import Drill
from stats.reports import last_whole_week
from stats.window import Filters
from tests import clock

XSS = "<script>alert(1)</script>"
ESCAPED_XSS = "&lt;script&gt;alert(1)&lt;/script&gt;"
PAGES = ["/", "/events/", "/events/1/", "/waybills/W1/", "/orders/O1/", "/search/?q=W1"]
PAGES += ["/codes/", "/reports/", "/shippers/"]


@pytest.fixture(autouse=True)
def plain_static_storage(settings):
    """Templates resolve {% static %} without a collectstatic manifest."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def user_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("ops", password="pw-123456789"))
    return client


def ago(**delta) -> str:
    return (timezone.now() - timedelta(**delta)).isoformat()


def call(n: int, *, minutes_ago: int = 30, **fields) -> dict:
    """One logged Clickpost call (a success unless `code`/`http_status` say otherwise)."""
    return {
        "event_id": f"page-test-{n}",
        "timestamp": ago(minutes=minutes_ago),
        "endpoint": "order_create",
        "http_status": 200,
        "cp_id": 4,
        "courier": "Delhivery",
        "waybill": f"W{n}",
        "order_id": f"O{n}",
        "account_code": "acme",
        **fields,
    }


def store(*events: dict) -> None:
    outcome = ingest_items([RawItem(e) for e in events], token_id=None)
    assert outcome.accepted == len(events), outcome.errors


@pytest.fixture
def traffic(db):
    """Courier 4: 5 calls, 3 failures (324 twice, 503 once); courier 5: 2 calls, 1 failure (330)."""
    store(
        call(1, code=324, message="bad creds", request={"api_key": "sekrit", "awb": "W1"}),
        call(2, code=324, minutes_ago=40),
        call(3, http_status=503, minutes_ago=50),
        call(4, minutes_ago=55),
        call(5, minutes_ago=65),
        call(6, cp_id=5, courier="Blue Dart", code=330, endpoint="tracking_status"),
        call(7, cp_id=5, courier="Blue Dart", minutes_ago=20),
    )


def tile(response, name: str) -> str:
    match = re.search(rf'data-tile="{name}">([^<]*)<', response.content.decode())
    assert match, f"no {name} tile"
    return match.group(1)


def figure(response, name: str) -> dict:
    return response.context[name]


def customdata_urls(fig: dict) -> list[str]:
    urls = []
    for trace in fig["data"]:
        for item in trace["customdata"]:
            urls += item if isinstance(item, list) else [item]
    return [url for url in urls if url]


# ---------------------------------------------------------------- login


@pytest.mark.django_db
@pytest.mark.parametrize("url", PAGES)
def test_every_page_redirects_anonymous_visitors_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.django_db
def test_login_page_logs_in_and_logout_is_a_post(client, django_user_model):
    django_user_model.objects.create_user("ops", password="pw-123456789")
    assert client.get("/accounts/login/").status_code == 200
    response = client.post("/accounts/login/", {"username": "ops", "password": "pw-123456789"})
    assert response.status_code == 302 and response["Location"] == "/"
    page = client.get("/").content.decode()
    assert 'action="/accounts/logout/"' in page and "csrfmiddlewaretoken" in page
    assert client.get("/accounts/logout/").status_code == 405
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_wrong_password_shows_the_form_again_with_an_error(client):
    response = client.post("/accounts/login/", {"username": "nobody", "password": "wrong"})
    assert response.status_code == 200
    assert "did not match" in response.content.decode()


# ---------------------------------------------------------------- the overview


def test_overview_tiles_count_the_calls_and_errors_in_the_range(user_client, traffic):
    response = user_client.get("/")
    assert response.status_code == 200
    assert (tile(response, "calls"), tile(response, "errors")) == ("7", "4")
    assert tile(response, "error-rate") == "57.14%"


def test_a_courier_filter_in_the_url_changes_the_numbers(user_client, traffic):
    response = user_client.get("/?cp_id=4")
    assert (tile(response, "calls"), tile(response, "errors")) == ("5", "3")
    assert tile(response, "error-rate") == "60.00%"
    assert '<option value="4" selected>' in response.content.decode()


def test_a_category_filter_keeps_only_that_category(user_client, traffic):
    response = user_client.get("/?category=server")
    assert (tile(response, "calls"), tile(response, "errors")) == ("1", "1")


def test_a_preset_range_leaves_out_older_calls(user_client, db):
    store(call(1, code=324, minutes_ago=20), call(2, code=324, minutes_ago=6 * 60))
    assert tile(user_client.get("/?range=1h"), "errors") == "1"
    assert tile(user_client.get("/?range=24h"), "errors") == "2"


def test_a_custom_range_reads_wall_clock_times_in_the_chosen_zone(user_client, db):
    day = clock.recent_day()
    at = day + timedelta(hours=6, minutes=20)  # 11:50 in Kolkata
    store(call(1, code=324, timestamp=at.isoformat()))
    inside = f"?range=custom&start={day:%Y-%m-%d}T11:45&end={day:%Y-%m-%d}T12:00&tz=Asia/Kolkata"
    outside = f"?range=custom&start={day:%Y-%m-%d}T11:45&end={day:%Y-%m-%d}T12:00&tz=UTC"
    assert tile(user_client.get("/" + inside), "errors") == "1"
    assert tile(user_client.get("/" + outside), "errors") == "0"


def test_overview_shows_top_codes_with_meaning_and_action(user_client, traffic):
    page = user_client.get("/").content.decode()
    assert "You Are Using Invalid Credential For Courier Partner" in page
    assert "Fix the courier partner credentials" in page


def test_unknown_codes_seen_in_the_range_are_listed(user_client, db):
    store(call(1, code=777))
    response = user_client.get("/")
    assert [row["code"] for row in response.context["unknown_codes"]] == [777]


def test_overview_of_an_empty_range_says_so_instead_of_drawing_nothing(user_client, db):
    page = user_client.get("/").content.decode()
    assert "No calls in this range" in page
    assert "data-figure" not in page


def test_overview_of_a_range_without_errors_says_no_errors(user_client, db):
    store(call(1), call(2))
    page = user_client.get("/").content.decode()
    assert "No errors in this range" in page


def test_charts_get_plotly_from_our_own_static_files(user_client, traffic):
    page = user_client.get("/").content.decode()
    assert '<script src="/static/vendor/plotly.min.js"></script>' in page
    assert "cdn" not in page.lower()
    assert re.search(r"<script>(?!</script>)", page) is None  # no inline code (CSP)


def test_every_chart_point_links_to_the_events_behind_it(user_client, traffic):
    response = user_client.get("/?cp_id=4")
    urls = [
        url
        for name in ("rate_figure", "codes_figure", "heatmap_figure")
        for url in customdata_urls(figure(response, name))
    ]
    assert urls
    for url in urls:
        events = user_client.get(url)
        assert events.status_code == 200, url
        rows = events.context["rows"]
        assert rows and all(r["cp_id"] == 4 and r["category"] != "success" for r in rows), url


def test_clicking_a_code_bar_lists_exactly_that_codes_failures(user_client, traffic):
    codes = figure(user_client.get("/"), "codes_figure")["data"][0]
    url = codes["customdata"][codes["y"].index("324")]
    rows = user_client.get(url).context["rows"]
    assert sorted(r["waybill"] for r in rows) == ["W1", "W2"]


def test_clicking_a_heatmap_cell_lists_that_couriers_category(user_client, traffic):
    heat = figure(user_client.get("/"), "heatmap_figure")["data"][0]
    row, column = heat["y"].index("Blue Dart"), heat["x"].index("service")
    rows = user_client.get(heat["customdata"][row][column]).context["rows"]
    assert [r["waybill"] for r in rows] == ["W6"]


def test_a_clicked_bar_opens_the_failures_of_its_own_bucket(user_client, traffic):
    fig = figure(user_client.get("/?range=24h"), "rate_figure")
    for trace in fig["data"]:
        for errors_text, url in zip(trace["text"], trace["customdata"], strict=True):
            if url:
                shown = int(re.search(r"([\d,]+) errors of", errors_text)[1].replace(",", ""))
                assert len(user_client.get(url).context["rows"]) == shown, url


# ---------------------------------------------------------------- events and details


def test_events_page_lists_newest_first_with_links_to_waybill_and_order(user_client, traffic):
    response = user_client.get("/events/")
    rows = response.context["rows"]
    assert len(rows) == 7
    assert [r["timestamp"] for r in rows] == sorted((r["timestamp"] for r in rows), reverse=True)
    page = response.content.decode()
    assert 'href="/waybills/W1/"' in page and 'href="/orders/O1/"' in page


def test_events_page_errors_only_and_text_search(user_client, traffic):
    assert len(user_client.get("/events/?errors_only=true").context["rows"]) == 4
    assert [r["waybill"] for r in user_client.get("/events/?q=W6").context["rows"]] == ["W6"]
    assert [r["waybill"] for r in user_client.get("/events/?q=bad+cre").context["rows"]] == ["W1"]


def test_events_page_pages_with_a_cursor_and_shows_each_event_once(user_client, db, settings):
    store(*(call(n, minutes_ago=10 + n) for n in range(1, 56)))
    first = user_client.get("/events/")
    assert len(first.context["rows"]) == 50 and first.context["next_url"]
    second = user_client.get("/events/" + first.context["next_url"])
    assert len(second.context["rows"]) == 5 and second.context["next_url"] is None
    seen = [r["id"] for r in first.context["rows"] + second.context["rows"]]
    assert len(set(seen)) == 55


def test_the_next_page_keeps_the_search_and_errors_only(user_client, db):
    store(*(call(n, code=324, message="boom", minutes_ago=10 + n) for n in range(1, 53)))
    store(call(99, code=324, message="other", minutes_ago=5), call(98, message="boom"))
    first = user_client.get("/events/?q=boom&errors_only=true")
    assert "q=boom" in first.context["next_url"] and "errors_only=true" in first.context["next_url"]
    second = user_client.get("/events/" + first.context["next_url"])
    assert [r["message"] for r in second.context["rows"]] == ["boom", "boom"]


def test_event_detail_shows_redacted_request_and_response_as_json(user_client, traffic):
    event_id = user_client.get("/events/?q=W1").context["rows"][0]["id"]
    response = user_client.get(f"/events/{event_id}/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "sekrit" not in page and "[REDACTED]" in page
    assert "&quot;awb&quot;: &quot;W1&quot;" in page
    assert "Fix the courier partner credentials" in page
    assert re.search(r"<dt>Retryable</dt><dd>no</dd>", page)


def test_an_unknown_address_is_an_html_404_page(user_client):
    response = user_client.get("/no-such-page/")
    assert response.status_code == 404 and "Not found" in response.content.decode()


def test_unknown_event_id_is_a_404_page(user_client, db):
    assert user_client.get("/events/123456789/").status_code == 404
    assert user_client.get("/events/99999999999999999999999/").status_code == 404


# ---------------------------------------------------------------- timelines and search


def test_waybill_timeline_shows_summary_and_every_call(user_client, db):
    store(call(1, minutes_ago=50), call(2, code=324, minutes_ago=40, waybill="W1"))
    response = user_client.get("/waybills/W1/")
    assert response.status_code == 200
    summary = response.context["summary"]
    assert (summary["events"], summary["errors"], summary["last_code"]) == (2, 1, 324)
    assert len(response.context["rows"]) == 2 and response.context["figure"]


def test_order_timeline_and_missing_shipments(user_client, traffic):
    assert user_client.get("/orders/O3/").context["summary"]["last_code"] == 503
    missing = user_client.get("/waybills/NOPE/")
    assert missing.status_code == 404 and "No calls were logged" in missing.content.decode()


def test_search_jumps_to_the_waybill_else_the_order_else_says_nothing_found(user_client, db):
    store(call(1, waybill="SAME", order_id="X1"), call(2, waybill="Y2", order_id="ORD-9"))
    assert user_client.get("/search/?q=SAME")["Location"] == "/waybills/SAME/"
    assert user_client.get("/search/?q=ORD-9")["Location"] == "/orders/ORD-9/"
    nothing = user_client.get("/search/?q=zzz")
    assert nothing.status_code == 200 and "Nothing found" in nothing.content.decode()


# ---------------------------------------------------------------- escaping


def test_everything_echoed_is_escaped(user_client, db):
    store(
        call(
            1,
            code=324,
            waybill=XSS,
            order_id=XSS,
            account_code=XSS,
            courier=XSS,
            message=XSS,
            request={"note": XSS},
        )
    )
    for url in ["/", "/events/", "/codes/", f"/events/?q={XSS}", f"/search/?q={XSS}x"]:
        page = user_client.get(url).content.decode()
        assert XSS not in page, url
    events = user_client.get("/events/")
    assert ESCAPED_XSS in events.content.decode()
    event_id = events.context["rows"][0]["id"]
    assert XSS not in user_client.get(f"/events/{event_id}/").content.decode()
    timeline = user_client.get(user_client.get(f"/search/?q={XSS}")["Location"])
    assert timeline.status_code == 200
    assert XSS not in timeline.content.decode() and ESCAPED_XSS in timeline.content.decode()


def test_bad_parameter_values_are_echoed_escaped_on_the_400_page(user_client, db):
    response = user_client.get(f"/?code={XSS}")
    assert response.status_code == 400 and XSS not in response.content.decode()


# ---------------------------------------------------------------- bad parameters


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("/?start=yesterday-ish", "start"),
        ("/?range=2y", "range"),
        ("/?code=abc", "code"),
        ("/?cp_id=-1", "cp_id"),
        ("/?category=nope", "category"),
        ("/?tz=Mars/Olympus", "tz"),
        ("/?start=2026-03-10T12:00Z&end=2026-03-10T11:00Z", "end"),
        ("/events/?cursor=not-a-cursor", "cursor"),
        ("/codes/?code=1.5", "code"),
        ("/reports/?week=2026-W60", "week"),
        ("/reports/?tz=Nowhere", "tz"),
        ("/events/1/?tz=Nowhere", "tz"),
    ],
)
def test_bad_parameters_give_a_400_page_naming_them(user_client, url, parameter):
    response = user_client.get(url)
    assert response.status_code == 400
    assert f"<code>{parameter}</code>" in response.content.decode()


# ---------------------------------------------------------------- codes and reports


def test_codes_page_lists_the_catalog_with_counts_in_the_range(user_client, traffic):
    response = user_client.get("/codes/")
    rows = {row["code"]: row for row in response.context["rows"]}
    assert (rows[324]["errors"], rows[330]["errors"], rows[503]["errors"]) == (2, 1, 1)
    assert rows[503]["retryable"] and rows[301]["events"] == 0
    assert rows[324]["events_url"].startswith("/events/?")


def test_codes_page_counts_follow_the_filters(user_client, traffic):
    rows = {row["code"]: row for row in user_client.get("/codes/?cp_id=5").context["rows"]}
    assert (rows[324]["errors"], rows[330]["errors"]) == (0, 1)


def test_reports_page_defaults_to_the_last_complete_week_with_its_csv_link(user_client, db):
    response = user_client.get("/reports/")
    week = last_whole_week(today=timezone.now().date())
    assert response.context["week"] == week
    assert f'href="/api/v1/reports/weekly/?week={week}&amp;tz=UTC"' in response.content.decode()


def test_reports_page_previews_the_weeks_rows(user_client, db):
    monday = clock.weeks_ago(1) + timedelta(hours=10)
    store(call(1, code=324, timestamp=monday.isoformat()), call(2, timestamp=monday.isoformat()))
    year, week, _ = monday.isocalendar()
    response = user_client.get(f"/reports/?week={year}-W{week:02d}")
    assert [(r["code"], r["errors"], r["calls"]) for r in response.context["rows"]] == [(324, 1, 2)]
    assert response.context["figure"]["data"][0]["y"] == [1]


# ---------------------------------------------------------------- pure pieces (no database)


WINDOW_START = "2026-03-10T00:00:00+05:30"
WINDOW_END = "2026-03-10T03:00:00+05:30"


def drill() -> Drill:
    return Drill(
        filters=Filters(cp_id=(4,)),
        tz=ZoneInfo("Asia/Kolkata"),
        start=datetime.fromisoformat(WINDOW_START),  # the read room's results hold datetimes
        end=datetime.fromisoformat(WINDOW_END),
    )


def point(t: str, events: int, errors: int, all_events: int | None = None) -> dict:
    whole = all_events or events
    return {"t": t, "events": events, "errors": errors, "share": errors / whole if whole else 0}


def series_result(points_by_category: dict[str, list[dict]]) -> dict:
    times = [p["t"] for p in next(iter(points_by_category.values()))]
    return {
        "interval": "hour",
        "tz": "Asia/Kolkata",
        "start": WINDOW_START,
        "end": WINDOW_END,
        "totals": [point(t, 10, 0) for t in times],
        "series": [
            {"key": category, "label": category.replace("_", " "), "points": points}
            for category, points in points_by_category.items()
        ],
    }


def test_visible_buckets_are_clipped_to_the_window_and_cut_ones_are_partial():
    starts = ["2026-03-09T23:30:00+05:30", "2026-03-10T00:30:00+05:30", "2026-03-10T01:30:00+05:30"]
    buckets = charts.visible_buckets(
        starts,
        interval="hour",
        window_start=datetime.fromisoformat(WINDOW_START),
        until=datetime.fromisoformat("2026-03-10T01:50:00+05:30"),
    )
    as_text = [(b.start.isoformat(), b.end.isoformat(), b.partial) for b in buckets]
    assert as_text == [
        ("2026-03-10T00:00:00+05:30", "2026-03-10T00:30:00+05:30", True),
        ("2026-03-10T00:30:00+05:30", "2026-03-10T01:30:00+05:30", False),
        ("2026-03-10T01:30:00+05:30", "2026-03-10T01:50:00+05:30", True),
    ]


def test_buckets_after_now_are_not_drawn():
    starts = ["2026-03-10T00:00:00+05:30", "2026-03-10T00:01:00+05:30", "2026-03-10T00:02:00+05:30"]
    buckets = charts.visible_buckets(
        starts,
        interval="minute",
        window_start=datetime.fromisoformat(WINDOW_START),
        until=datetime.fromisoformat("2026-03-10T00:01:30+05:30"),
    )
    assert [(b.x, b.partial) for b in buckets] == [
        ("2026-03-10 00:00:00", False),
        ("2026-03-10 00:01:00", True),
    ]


def test_error_rate_figure_links_each_bar_to_its_bucket_category_and_filters():
    result = series_result(
        {
            "server": [
                point("2026-03-10T00:00:00+05:30", 10, 2),
                point(WINDOW_START[:11] + "01:00:00+05:30", 10, 0),
            ],
            "success": [
                point("2026-03-10T00:00:00+05:30", 10, 0),
                point(WINDOW_START[:11] + "01:00:00+05:30", 10, 0),
            ],
        }
    )
    fig = charts.error_rate_figure(result, drill=drill())
    assert [trace["name"] for trace in fig["data"]] == ["server"]
    bar = fig["data"][0]
    assert bar["x"][0] == "2026-03-10 00:00:00"  # wall clock: Plotly ignores offsets
    assert bar["customdata"][1] is None  # nothing to open behind an empty bar
    query = parse_qs(urlsplit(bar["customdata"][0]).query)
    assert query == {
        "cp_id": ["4"],
        "category": ["server"],
        "start": ["2026-03-10T00:00:00+05:30"],
        "end": ["2026-03-10T01:00:00+05:30"],
        "tz": ["Asia/Kolkata"],
        "errors_only": ["true"],
    }


def test_figures_are_none_when_there_is_nothing_to_draw():
    quiet = series_result({"server": [point(WINDOW_START, 10, 0)]})
    assert charts.error_rate_figure(quiet, drill=drill()) is None
    assert charts.top_codes_figure([], drill=drill()) is None
    empty_heatmap = {"couriers": [], "categories": ["server"], "errors": [], "min_calls": 20}
    assert charts.heatmap_figure(empty_heatmap, drill=drill()) is None
    assert charts.timeline_figure([]) is None
    assert charts.weekly_figure([], drill=drill()) is None


def test_heatmap_keeps_only_categories_with_errors_and_links_each_cell():
    heat = {
        "couriers": [
            {"key": 4, "label": "Delhivery", "events": 30, "errors": 3},
            {"key": 0, "label": "no courier", "events": 5, "errors": 1},
        ],
        "categories": ["server", "service", "webhook"],
        "errors": [[3, 0, 0], [0, 1, 0]],
        "min_calls": 20,
    }
    trace, low = charts.heatmap_figure(heat, drill=drill())["data"]
    # Coloured by the courier's error rate; under 20 calls a courier is grey, not rated.
    assert trace["x"] == ["server", "service"] and trace["z"] == [[0.1, 0.0], [None, None]]
    assert low["z"] == [[None, None], [0, 1]] and "colorbar" not in low
    assert trace["text"][0][0] == "10.0% of the courier's calls<br>3 errors of 30 calls"
    assert trace["text"][1][1] == "1 errors of 5 calls (too few calls to rate)"
    assert trace["customdata"][0][1] is None
    assert parse_qs(urlsplit(trace["customdata"][1][1]).query)["cp_id"] == ["0"]


def test_labels_from_the_data_are_escaped_for_plotly():
    heat = {
        "couriers": [{"key": 9, "label": XSS, "events": 1, "errors": 1}],
        "categories": ["server"],
        "errors": [[1]],
        "min_calls": 20,
    }
    trace = charts.heatmap_figure(heat, drill=drill())["data"][0]
    assert trace["y"] == [ESCAPED_XSS]
    rows = [{"key": 999, "label": XSS, "errors": 1}]
    assert charts.top_codes_figure(rows, drill=drill())["data"][0]["text"] == [ESCAPED_XSS]
    assert XSS not in json.dumps(charts.heatmap_figure(heat, drill=drill()))


def test_weekly_figure_sums_errors_per_courier_and_category():
    rows = [
        {"cp_id": 4, "courier": "Delhivery", "category": "server", "errors": 3},
        {"cp_id": 4, "courier": "Delhivery", "category": "server", "errors": 2},
        {"cp_id": 4, "courier": "Delhivery", "category": "service", "errors": 1},
        {"cp_id": None, "courier": "no courier", "category": "server", "errors": 7},
    ]
    fig = charts.weekly_figure(rows, drill=drill())
    by_name = {trace["name"]: trace for trace in fig["data"]}
    assert by_name["server"]["x"] == ["no courier", "Delhivery"]
    assert by_name["server"]["y"] == [7, 5] and by_name["service"]["y"] == [0, 1]
    assert "cp_id=0" in by_name["server"]["customdata"][0]


def test_the_interval_keeps_every_range_between_about_24_and_200_bars():
    def window(span):
        end = datetime(2026, 3, 10, tzinfo=UTC)
        return type("W", (), {"start": end - span, "end": end})()

    chosen = {
        span: params.interval_for(window(span))
        for span in (timedelta(hours=1), timedelta(hours=24), timedelta(days=7), timedelta(days=30))
    }
    assert list(chosen.values()) == ["minute", "hour", "hour", "day"]


def test_the_default_report_week_is_the_last_complete_iso_week():
    assert last_whole_week(today=datetime(2026, 11, 25).date()) == "2026-W47"
    assert last_whole_week(today=datetime(2026, 1, 1).date()) == "2025-W52"


# ---------------------------------------------------------------- shippers (ingest health)


@pytest.mark.django_db
def test_shippers_page_shows_each_tokens_counts_and_last_error_escaped(user_client):
    from ingest.pipeline import RawItem, ingest_items
    from tokens.auth import create_token

    token, _ = create_token(name="<b>fluent-bit</b>", scopes=["ingest"])
    good = {"timestamp": ago(minutes=5), "endpoint": "order_create", "http_status": 200}
    ingest_items(
        [RawItem(good), RawItem(good), RawItem({"endpoint": "<i>x</i>"})], token_id=token.pk
    )

    html = user_client.get("/shippers/").content.decode()

    assert "&lt;b&gt;fluent-bit&lt;/b&gt;" in html and "<b>fluent-bit</b>" not in html
    row = html[html.index("&lt;b&gt;fluent-bit") :]
    assert ">1</td>" in row  # accepted: the second good event is a duplicate
    assert "1 rejected; event 2: timestamp: required" in row
    assert "status-errors" in row
