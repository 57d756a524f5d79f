"""What a new user following the README tripped over, one fact per test: the grouped chart's
"others", the error-rate chart's volume floor, ... The figure tests need no database."""

from __future__ import annotations

import importlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.apps import apps as django_apps
from django.utils import timezone

from dashboard import bidi, charts
from ingest.catalog import ALREADY_DONE
from ingest.models import CodeEntry
from stats import selectors
from stats.benign import benign_codes
from stats.links import Drill
from stats.window import Filters
from tests.dashboard.test_numbers import recent_weeks
from tests.dashboard.test_pages import call, store

START = datetime(2026, 3, 10, tzinfo=UTC)  # a figure is pure: any fixed instant will do


def drill() -> Drill:
    return Drill(filters=Filters(), tz=ZoneInfo("UTC"), start=START, end=START + timedelta(days=3))


def timeseries(series: dict, *, calls: list[int], group_by: str = "cp_id") -> dict:
    """A day-bucket timeseries result: `series` maps a key to its errors per bucket."""
    times = [START + timedelta(days=i) for i in range(len(calls))]
    return {
        "interval": "day",
        "group_by": group_by,
        "start": START,
        "end": START + timedelta(days=len(calls)),
        "totals": [{"t": t, "events": n, "errors": 0} for t, n in zip(times, calls, strict=True)],
        "series": [
            {
                "key": key,
                "label": f"courier {key}",
                "points": [
                    {"t": t, "events": n, "errors": e}
                    for t, n, e in zip(times, calls, errors, strict=True)
                ],
            }
            for key, errors in series.items()
        ],
    }


def test_the_others_series_has_its_own_neutral_colour_never_a_groups():
    ten = {cp_id: [10 - cp_id, 1] for cp_id in range(0, 10)}  # two more than the palette
    fig = charts.error_rate_figure(timeseries(ten, calls=[100, 100]), drill=drill())
    colours = [trace["marker"]["color"] for trace in fig["data"]]
    assert fig["data"][-1]["name"] == "2 others"
    assert colours[-1] == charts.OTHER_COLOR
    assert len(set(colours)) == len(colours)  # no group shares a colour with another or others
    assert charts.OTHER_COLOR not in charts.PALETTE
    assert charts.OTHER_COLOR not in charts.CATEGORY_COLORS.values()
    assert fig["data"][-1]["customdata"] == [None, None]  # a sum opens nothing


def test_the_read_rooms_own_summed_series_is_grey_too():
    result = timeseries({5: [1, 1], "other": [2, 2]}, calls=[100, 100])
    fig = charts.error_rate_figure(result, drill=drill())
    by_name = {trace["name"]: trace for trace in fig["data"]}
    assert by_name["courier other"]["marker"]["color"] == charts.OTHER_COLOR
    assert by_name["courier other"]["customdata"] == [None, None]
    assert by_name["courier 5"]["marker"]["color"] == charts.PALETTE[0]


def test_a_bucket_under_the_volume_floor_is_hatched_faded_and_does_not_set_the_scale():
    # Two real days at 2 % and 3 %, then four sample calls of which three failed (75 %).
    result = timeseries({4: [20, 30, 3]}, calls=[1000, 1000, 4])
    fig = charts.error_rate_figure(result, drill=drill(), min_calls=20)
    bars = fig["data"][0]
    assert bars["y"] == [0.02, 0.03, 0.75]
    assert bars["marker"]["pattern"]["shape"] == ["", "", "/"]
    assert bars["marker"]["opacity"][:2] == [1, 1]
    assert bars["marker"]["opacity"][2] == charts.LOW_VOLUME_OPACITY
    assert "too few to rate" in bars["text"][2] and "3 errors of 4 calls" in bars["text"][2]
    assert not any("too few" in text for text in bars["text"][:2])
    low, high = fig["layout"]["yaxis"]["range"]
    assert low == 0 and 0.03 <= high < 0.75  # the real days fill the chart


def test_without_a_taller_low_volume_bucket_plotly_picks_the_scale():
    result = timeseries({4: [20, 30, 0]}, calls=[1000, 1000, 4])
    fig = charts.error_rate_figure(result, drill=drill(), min_calls=20)
    assert "range" not in fig["layout"]["yaxis"]
    assert fig["data"][0]["marker"]["pattern"]["shape"] == ["", "", "/"]


# ---------------------------------------------------------------- a start without an end


@pytest.fixture
def user_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("ops", password="pw-123456789"))
    return client


@pytest.mark.django_db
def test_the_api_reads_a_start_alone_as_ending_now_not_a_day_later(read_client):
    now = timezone.now()
    start = (now - timedelta(hours=3)).isoformat()
    answer = read_client.get("/api/v1/stats/timeseries/", {"start": start, "interval": "hour"})
    assert answer.status_code == 200, answer.json()
    assert now <= datetime.fromisoformat(answer.json()["end"]) <= now + timedelta(minutes=16)
    assert len(answer.json()["totals"]) == 4  # the four hours that the last 3 h touch
    assert all(datetime.fromisoformat(p["t"]) < timezone.now() for p in answer.json()["totals"])


@pytest.mark.django_db
def test_a_page_with_a_start_alone_shows_a_window_ending_now(user_client):
    now = timezone.now()
    response = user_client.get("/", {"start": (now - timedelta(hours=3)).isoformat(), "tz": "UTC"})
    state = response.context["state"]
    assert now <= state.until <= timezone.now()
    assert response.context["window_text"].endswith(f"{state.until:%H:%M} (UTC)")


# ---------------------------------------------------------------- benign codes


@pytest.mark.django_db
def test_the_data_migration_flags_every_already_done_code_benign_and_keeps_hand_flags():
    CodeEntry.objects.filter(code=305).update(benign=False)  # as 0006 left existing catalogs
    CodeEntry.objects.filter(code=500).update(benign=True)  # an operator's own choice
    migration = importlib.import_module("ingest.migrations.0008_benign_from_already_done_action")
    migration.benign_from_action(django_apps, None)
    done = {row.code for row in CodeEntry.objects.all() if row.action == ALREADY_DONE}
    assert 305 in done
    assert benign_codes() == done | {500}


# ---------------------------------------------------------------- courier names


@pytest.mark.django_db
def test_an_event_with_a_cp_id_and_no_courier_shows_the_name_known_for_it(user_client):
    named = call(1, minutes_ago=20, cp_id=4, courier="Delhivery")
    bare = call(2, minutes_ago=10, cp_id=4, waybill="W-BARE")
    unknown = call(3, minutes_ago=5, cp_id=77, waybill="W-UNKNOWN")
    del bare["courier"], unknown["courier"]
    store(named, bare, unknown)
    rows = {row["waybill"]: row for row in user_client.get("/events/").context["rows"]}
    assert rows["W-BARE"]["courier"] == "Delhivery"
    page = user_client.get("/events/").content.decode()
    assert "— <span" not in page and "cp 77" in page
    detail = user_client.get(f"/events/{rows['W-BARE']['id']}/").content.decode()
    assert "<dd>Delhivery (4)</dd>" in detail
    timeline = user_client.get("/waybills/W-BARE/").context["rows"]
    assert timeline[0]["courier"] == "Delhivery"
    matches = user_client.get("/search/", {"q": "W-BA"}).context["matches"]
    assert [m["courier"] for m in matches] == ["Delhivery"]


# ---------------------------------------------------------------- bidi controls

RLO, LRI, PDI = "\u202e", "\u2066", "\u2069"


def test_bidi_controls_become_named_markers_and_the_rest_is_escaped():
    text = f"invoice{RLO}fdp.exe <b>"
    assert bidi.plain(text) == "invoice⟨RLO⟩fdp.exe <b>"
    marked = bidi.html(text)
    assert "&lt;b&gt;" in marked and RLO not in marked
    assert '<span class="bidi" title="U+202E right-to-left override: shown, not applied">' in marked
    every = "".join(bidi.CONTROLS)
    assert not set(bidi.plain(every)) & set(every)
    assert {f"U+{code:04X}" for code in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]} == {
        f"U+{ord(c):04X}" for c in bidi.CONTROLS
    }


@pytest.mark.django_db
def test_no_page_applies_a_bidi_control_a_shipper_sent(user_client):
    sneaky = call(
        1,
        minutes_ago=10,
        cp_id=4,
        courier=f"Del{RLO}yrevih",
        account_code=f"acme{LRI}x{PDI}",
        waybill=f"W{RLO}1",
        code=500,
        message=f"refund {RLO}gpj.exe",
        response={"meta": {"message": f"a{RLO}b"}},
    )
    store(sneaky)
    rows = user_client.get("/events/").context["rows"]
    pages = ["/events/", f"/events/{rows[0]['id']}/", f"/waybills/W{RLO}1/", "/search/?q=W"]
    pages += ["/?group=cp_id", "/?group=account_code"]
    for url in pages:
        response = user_client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert not set(html) & set(bidi.CONTROLS), url
    detail = user_client.get(f"/events/{rows[0]['id']}/").content.decode()
    assert "refund " in detail and "⟨RLO⟩</span>gpj.exe" in detail


# ---------------------------------------------------------------- courier health


@pytest.mark.django_db
def test_courier_health_says_top_10_of_how_many_and_links_to_all(user_client):
    store(*[call(n, minutes_ago=5 + n, cp_id=100 + n, courier=f"C{n}") for n in range(12)])
    response = user_client.get("/?range=24h")
    assert len(response.context["health"]) == 10
    html = response.content.decode()
    assert "Top 10 of 12 couriers" in html
    link = re.search(r'href="([^"]+)" data-health-all', html)[1].replace("&amp;", "&")
    every = user_client.get("/" + link.split("#")[0])
    assert {row["cp_id"] for row in every.context["health"]} == {100 + n for n in range(12)}
    assert "All 12 couriers" in every.content.decode()


# ---------------------------------------------------------------- reports' data start


@pytest.mark.django_db
def test_reports_say_when_the_data_starts_not_calls_on_7_of_7_days(user_client):
    before, monday, week = recent_weeks()
    late_start = [
        call(d, timestamp=(before + timedelta(days=d, hours=6)).isoformat()) for d in range(7)
    ]
    last_hour = call(7, timestamp=(monday - timedelta(minutes=20)).isoformat())
    # The report week itself: a call each day, from its first hour to its last.
    times = [monday + timedelta(days=d, minutes=10 + d * 230) for d in range(7)]
    whole_week = [call(10 + n, timestamp=t.isoformat()) for n, t in enumerate(times)]
    store(*late_start, last_hour, *whole_week)
    page = user_client.get(f"/reports/?week={week}&tz=UTC").content.decode()
    warning = re.search(r'<p data-coverage="previous">(.*?)</p>', page, re.S)[1]
    starts = before + timedelta(hours=6)
    assert f"the data starts {starts:%Y-%m-%d %H:%M}, after the week began" in warning
    assert "7 of 7" not in warning
    assert 'data-coverage="week"' not in page  # the report week itself is whole


# ---------------------------------------------------------------- /api/docs/ and its doors

# Every door README names, with the credential forms its clients send (tokens.auth).
README_DOORS = {
    "/v1/logs": {"token", "basicToken"},
    "/loki/api/v1/push": {"token", "basicToken"},
    "/_bulk": {"token", "basicToken"},
    "/services/collector": {"splunkToken", "token", "basicToken"},
    "/api/events/raw": {"seqApiKey", "seqApiKeyQuery", "token", "basicToken"},
    "/ingest/clef": {"seqApiKey", "seqApiKeyQuery", "token", "basicToken"},
    "/betterstack/": {"token", "basicToken"},
    "/logzio/": {"queryToken", "token", "basicToken"},
}


@pytest.mark.django_db
def test_the_openapi_schema_describes_every_readme_door_with_its_own_credentials(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    schemes = schema["components"]["securitySchemes"]
    for path, credentials in README_DOORS.items():
        assert f"`{path}" in readme, path
        operation = schema["paths"][path]["post"]
        assert {name for need in operation["security"] for name in need} == credentials, path
        assert credentials <= set(schemes)
    assert schemes["splunkToken"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "`Authorization: Splunk <token>`: the Splunk HEC door only.",
    }
    assert schemes["queryToken"]["in"] == "query" and schemes["queryToken"]["name"] == "token"
    # HTTPHandler posts form records to the generic door.
    ingest = schema["paths"]["/api/v1/events/"]["post"]
    assert "application/x-www-form-urlencoded" in ingest["requestBody"]["content"]
    assert "HTTPHandler" in ingest["description"]
    assert "/betterstack" not in schema["paths"] and "/logzio" not in schema["paths"]


@pytest.mark.django_db
def test_the_docs_page_lists_every_door_and_which_credential_it_takes(user_client):
    page = user_client.get("/api/docs/").content.decode()
    doors = page[page.index('data-table="doors"') :]
    for name in ("Splunk", "Seq", "Better Stack", "Logz.io", "HTTPHandler", "Loki", "OTLP"):
        assert name in doors, name
    assert "Authorization: Splunk $TOKEN" in doors and "X-Seq-ApiKey: $TOKEN" in doors
    assert "Every door takes the same <code>Authorization: Bearer" not in page


# ---------------------------------------------------------------- a text response


@pytest.mark.django_db
def test_a_text_response_is_shown_decoded_as_the_message_is(user_client):
    page = "<html>\r\n<body>502 Bad Gateway</body>\r\n</html>"
    store(call(1, minutes_ago=5, http_status=502, response=page, message=page))
    event_id = user_client.get("/events/").context["rows"][0]["id"]
    html = user_client.get(f"/events/{event_id}/").content.decode()
    shown = re.search(r'<pre class="json text" data-json="response">(.*?)</pre>', html, re.S)[1]
    assert shown == "&lt;html&gt;\r\n&lt;body&gt;502 Bad Gateway&lt;/body&gt;\r\n&lt;/html&gt;"
    assert "\\r\\n" not in html
    assert "(text, as received)" in html


# ---------------------------------------------------------------- the events page's count


@pytest.mark.django_db
def test_the_events_page_counts_as_the_overview_does_and_shows_its_window(user_client, monkeypatch):
    monkeypatch.setattr(selectors, "COUNT_CAP", 5)  # stands for 10,000
    calls = [call(n, minutes_ago=3 + n, message=f"timeout {n}") for n in range(8)]
    calls += [call(20 + n, minutes_ago=40 + n, code=500, message="boom") for n in range(4)]
    store(*calls)
    with time_machine.travel(timezone.now(), tick=False):  # one "now" for both pages
        overview = user_client.get("/?range=24h")
        events = user_client.get("/events/?range=24h")
    assert events.context["matches"] == {"count": 12, "capped": False}
    assert overview.context["totals"]["events"] == 12
    assert events.context["window_text"] == overview.context["window_text"]
    failures = user_client.get(overview.context["all_failures_url"])
    assert failures.context["matches"] == {"count": 4, "capped": False}
    assert failures.context["window_text"] == overview.context["window_text"]  # not widened
    searched = user_client.get("/events/", {"range": "24h", "q": "timeout"})
    assert searched.context["matches"] == {"count": 5, "capped": True}  # raw rows: capped
    assert 'data-count="5">5+ calls' in searched.content.decode()
