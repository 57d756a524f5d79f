"""Alerting from the pages (alerts/pages.py, alerts/forms.py): staff act, others read; the page
validates a rule through the API's own serializer, so a rule is valid in one exactly when it
is valid in the other (checked on generated rules with hypothesis)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from alerts.forms import rule_body
from alerts.metrics import typed_value
from alerts.models import AlertState, Channel, MuteWindow, Rule, Silence
from alerts.serializers import RuleSerializer
from tests.alerts.conftest import make_rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(django_user_model) -> Client:
    user = django_user_model.objects.create_user("lead", "lead@example.com", "pw", is_staff=True)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def reader(django_user_model) -> Client:
    user = django_user_model.objects.create_user("reader", "reader@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


def form_of(body: dict) -> dict:
    """The form a person fills in for an API body: thresholds in the metric's unit."""
    form: dict = {}
    for name, value in body.items():
        if isinstance(value, bool):
            if value:
                form[name] = "on"
        elif isinstance(value, list):
            form[name] = [str(v) for v in value]
        elif name in ("threshold", "warning", "resolve_threshold"):
            form[name] = typed_value(body.get("metric"), value)
        else:
            form[name] = "" if value is None else str(value)
    return form


def test_the_page_and_the_form_show_staff_buttons_only_to_staff(staff, reader):
    rule = make_rule()
    alert = AlertState.objects.create(
        rule=rule, group_key='{"cp_id":4}', labels={"cp_id": 4}, status="firing",
        since=timezone.now(), evaluated_at=timezone.now(),
    )  # fmt: skip
    Channel.objects.create(name="ops", kind="email", config={"to": ["ops@example.com"]})
    as_staff = staff.get("/alerts/").content.decode()
    as_reader = reader.get("/alerts/").content.decode()
    for button in ("New rule", "Duplicate", "Disable", "Send test", "silence-1h", "End now"):
        if button != "End now":
            assert button in as_staff
        assert button not in as_reader
    assert f"/alerts/now/{alert.pk}/silence/" in as_staff


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/alerts/rules/new/"),
        ("post", "/alerts/rules/new/"),
        ("get", "/alerts/rules/{rule}/edit/"),
        ("post", "/alerts/rules/{rule}/enable/"),
        ("post", "/alerts/rules/{rule}/delete/"),
        ("get", "/alerts/channels/new/"),
        ("post", "/alerts/channels/{channel}/test/"),
        ("post", "/alerts/channels/{channel}/delete/"),
        ("post", "/alerts/now/{alert}/silence/"),
        ("post", "/alerts/silences/{silence}/end/"),
        ("post", "/alerts/mute-windows/new/"),
        ("post", "/alerts/mute-windows/{window}/delete/"),
    ],
)
def test_a_reader_gets_403_from_every_action_and_nothing_changes(reader, method, path):
    rule = make_rule()
    ids = {
        "rule": rule.pk,
        "channel": Channel.objects.create(name="c", kind="email", config={"to": ["a@b.c"]}).pk,
        "alert": AlertState.objects.create(
            rule=rule,
            group_key="{}",
            labels={},
            status="firing",
            since=timezone.now(),
            evaluated_at=timezone.now(),
        ).pk,  # fmt: skip
        "silence": Silence.objects.create(
            start=timezone.now(), end=timezone.now() + timedelta(hours=1)
        ).pk,
        "window": MuteWindow.objects.create(
            name="night", days=[0], start_time="22:00", end_time="06:00"
        ).pk,
    }
    before = (Rule.objects.count(), Channel.objects.count(), Silence.objects.count())
    response = getattr(reader, method)(path.format(**ids), {"hours": "1", "name": "x"})
    assert response.status_code == 403
    assert (Rule.objects.count(), Channel.objects.count(), Silence.objects.count()) == before
    rule.refresh_from_db()
    assert rule.enabled


def test_a_rule_saved_from_the_form_reads_percent_as_the_api_stores_it(staff):
    channel = Channel.objects.create(name="ops", kind="email", config={"to": ["a@b.c"]})
    form = {
        "name": "Couriers failing", "metric": "error_rate", "group_by": "cp_id",
        "cp_id": ["4", "7"], "window_minutes": "15", "threshold": "12.5", "warning": "5",
        "direction": "above", "min_calls": "20", "min_errors": "3", "for_minutes": "0",
        "keep_firing_minutes": "0", "repeat_minutes": "0", "channels": [str(channel.pk)],
        "enabled": "on", "tz": "Asia/Kolkata", "weeks": "8",
    }  # fmt: skip
    response = staff.post("/alerts/rules/new/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    rule = Rule.objects.get(name="Couriers failing")
    assert (rule.threshold, rule.warning, rule.cp_id) == (0.125, 0.05, [4, 7])
    assert list(rule.channels.all()) == [channel]


def test_a_bad_field_is_shown_on_that_field_and_focused(staff):
    response = staff.post(
        "/alerts/rules/new/",
        {"name": "x", "metric": "error_rate", "threshold": "150", "window_minutes": "15"},
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert not Rule.objects.filter(name="x").exists()
    assert 'data-error-for="threshold">an error_rate threshold is a fraction' in page
    two = staff.post("/alerts/rules/new/", {"name": "", "threshold": "x", "window_minutes": "3"})
    page = two.content.decode()
    assert "greater than or equal to 5" in page and "A valid number is required" in page
    assert (
        page.count("autofocus") == 1
        and 'id="id_name" name="name" value="" type="text" required aria-invalid="true" autofocus'
        in page
    )


def test_duplicate_starts_from_a_copy_and_disable_enable_delete_work(staff):
    rule = make_rule(threshold=0.25)
    page = staff.get(f"/alerts/rules/new/?from={rule.pk}").content.decode()
    assert "Delhivery failing (copy)" in page and 'value="25"' in page
    staff.post(f"/alerts/rules/{rule.pk}/enable/", {"enabled": "0"})
    assert not Rule.objects.get(pk=rule.pk).enabled
    staff.post(f"/alerts/rules/{rule.pk}/enable/", {"enabled": "1"})
    assert Rule.objects.get(pk=rule.pk).enabled
    staff.post(f"/alerts/rules/{rule.pk}/delete/")
    assert not Rule.objects.filter(pk=rule.pk).exists()


def test_a_firing_alert_is_silenced_for_an_hour_and_the_silence_ended(staff):
    rule = make_rule()
    alert = AlertState.objects.create(
        rule=rule, group_key='{"cp_id":4}', labels={"cp_id": 4}, status="firing",
        since=timezone.now(), evaluated_at=timezone.now(),
    )  # fmt: skip
    staff.post(f"/alerts/now/{alert.pk}/silence/", {"hours": "1"})
    silence = Silence.objects.get()
    assert silence.rule == rule and silence.matchers == {"cp_id": 4}
    assert timedelta(minutes=59) < silence.end - silence.start <= timedelta(hours=1)
    staff.post(f"/alerts/silences/{silence.pk}/end/")
    assert Silence.objects.get().end <= timezone.now()


def test_silence_until_a_local_time_reads_it_in_the_viewers_zone(staff):
    alert = AlertState.objects.create(
        rule=make_rule(), group_key="{}", labels={}, status="firing", since=timezone.now(),
        evaluated_at=timezone.now(),
    )  # fmt: skip
    until = (timezone.now() + timedelta(days=1)).astimezone(timezone.get_fixed_timezone(330))
    staff.post(
        f"/alerts/now/{alert.pk}/silence/",
        {"until": until.strftime("%Y-%m-%dT%H:%M"), "tz": "Asia/Kolkata"},
    )
    assert abs(Silence.objects.get().end - until.replace(second=0, microsecond=0)) < timedelta(
        seconds=1
    )


def test_a_mute_window_needs_days_and_a_real_zone(staff):
    staff.post(
        "/alerts/mute-windows/new/",
        {"name": "n", "start_time": "22:00", "end_time": "06:00", "tz": "UTC"},
    )
    staff.post(
        "/alerts/mute-windows/new/",
        {"name": "n", "days": ["0"], "start_time": "22:00", "end_time": "06:00", "tz": "Mars/Base"},
    )
    assert not MuteWindow.objects.exists()
    staff.post(
        "/alerts/mute-windows/new/",
        {"name": "nights", "days": ["0", "4"], "start_time": "22:00", "end_time": "06:00",
         "tz": "Asia/Kolkata"},
    )  # fmt: skip
    assert MuteWindow.objects.get().days == [0, 4]


def test_a_channel_form_keeps_a_saved_secret_url_when_left_empty(staff):
    response = staff.post(
        "/alerts/channels/new/",
        {"name": "slack", "kind": "slack", "slack-url": "https://hooks.example.com/T/B/x",
         "enabled": "on", "email-to": "ignored@example.com"},
    )  # fmt: skip
    assert response.status_code == 302
    channel = Channel.objects.get()
    assert channel.config == {"url": "https://hooks.example.com/T/B/x"}
    staff.post(f"/alerts/channels/{channel.pk}/edit/", {"name": "team slack", "kind": "slack"})
    channel.refresh_from_db()
    assert (channel.name, channel.config["url"], channel.enabled) == (
        "team slack", "https://hooks.example.com/T/B/x", False,
    )  # fmt: skip
    bad = staff.post("/alerts/channels/new/", {"name": "e", "kind": "email", "email-to": "nobody"})
    assert bad.status_code == 400 and Channel.objects.count() == 1


numbers = st.one_of(
    st.none(),
    st.sampled_from([-1, 0, 0.01, 0.05, 0.2, 0.5, 0.999, 1, 1.5, 5, 50, 100, 1000]),
)


@st.composite
def rule_bodies(draw) -> dict:
    body = {
        "name": draw(st.sampled_from(["r", "", "x" * 201])),
        "metric": draw(st.sampled_from(["error_rate", "errors", "calls", "change", "anomaly"])),
        "group_by": draw(st.sampled_from(["none", "cp_id", "endpoint"])),
        "window_minutes": draw(st.sampled_from([1, 5, 60, 1440, 2000])),
        "threshold": draw(numbers),
        "warning": draw(numbers),
        "resolve_threshold": draw(numbers),
        "direction": draw(st.sampled_from(["above", "below"])),
        "min_calls": draw(st.sampled_from([0, 10, -1])),
        "min_errors": 0,
        "for_minutes": 0,
        "keep_firing_minutes": 0,
        "repeat_minutes": 0,
        "cp_id": draw(st.lists(st.sampled_from([4, 7, -1]), max_size=2, unique=True)),
        "category": draw(st.lists(st.sampled_from(["server", "nonsense"]), max_size=1)),
        "channels": [],
        "enabled": draw(st.booleans()),
        "tz": draw(st.sampled_from(["Asia/Kolkata", "UTC", "Mars/Base"])),
        "weeks": draw(st.sampled_from([8, 0])),
    }
    return body


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(body=rule_bodies())
def test_a_rule_is_valid_on_the_page_exactly_when_the_api_takes_it(staff, body):
    admin = APIClient()
    admin.force_authenticate(_staff_user())
    api = admin.post("/api/v1/alerts/rules/", body, format="json")
    page = staff.post("/alerts/rules/new/", form_of(body))
    assert (api.status_code == 201) == (page.status_code == 302), (api.json(), body)
    if api.status_code == 400:
        for field in api.json()["detail"]:
            assert f'data-error-for="{field}">' in page.content.decode()
            assert f'data-error-for="{field}"></p>' not in page.content.decode(), field
    Rule.objects.filter(name=body["name"]).delete()


def _staff_user():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username="lead")


def test_the_form_body_is_the_api_body():
    from django.http import QueryDict

    form = QueryDict(mutable=True)
    form.update({"metric": "error_rate", "threshold": "5", "warning": "", "name": "n"})
    form.setlist("cp_id", ["4"])
    body = rule_body(form)
    assert body["threshold"] == 0.05 and body["warning"] is None and body["cp_id"] == ["4"]
    assert body["enabled"] is False


def test_the_form_has_every_writable_field_of_the_api(staff):
    page = staff.get("/alerts/rules/new/").content.decode()
    for name, field in RuleSerializer().fields.items():
        if not field.read_only:
            assert f'data-field="{name}"' in page, name


def test_channel_matchers_are_typed_per_label_and_checked_by_the_api_serializer(staff):
    form = {"name": "acme team", "kind": "email", "email-to": "acme@example.com", "enabled": "on"}
    staff.post(
        "/alerts/channels/new/", form | {"match-cp_id": "4, 7", "match-severity": "critical"}
    )
    assert Channel.objects.get().matchers == {"cp_id": [4, 7], "severity": ["critical"]}
    bad = staff.post("/alerts/channels/new/", form | {"name": "b", "match-severity": "loud"})
    assert bad.status_code == 400 and "is not one of critical, warning" in bad.content.decode()


def test_the_preview_answers_its_chart_and_its_replay_in_words(staff, recent_spike):
    admin = APIClient()
    admin.force_authenticate(_staff_user())
    body = {"name": "p", "metric": "error_rate", "group_by": "cp_id", "threshold": 0.2}
    answer = admin.post("/api/v1/alerts/rules/preview/", body, format="json").json()
    assert answer["summary"].startswith("would have fired once in 14 days, longest ")
    assert answer["longest_minutes"] >= 15
    assert answer["figure"]["data"][0]["name"] == "Delhivery"
    assert (
        admin.post(
            "/api/v1/alerts/rules/preview/", body | {"threshold": 0.9}, format="json"
        ).json()["summary"]
        == "would not have fired in 14 days"
    )


@pytest.fixture
def recent_spike(db):
    from tests.alerts.traffic import calls, ingest

    now = timezone.now().replace(second=0, microsecond=0)
    ingest(
        calls(start=now - timedelta(hours=2), minutes=60, per_minute=2)
        + calls(start=now - timedelta(minutes=40), minutes=20, per_minute=4, failing=2)
    )


def test_edit_shows_the_rule_in_its_unit_and_saves_the_change(staff):
    channel = Channel.objects.create(name="ops", kind="email", config={"to": ["a@b.c"]})
    rule = make_rule(channel, threshold=0.25, warning=0.1)
    page = staff.get(f"/alerts/rules/{rule.pk}/edit/").content.decode()
    assert 'name="threshold" value="25"' in page and 'name="warning" value="10"' in page
    form = form_of(RuleSerializer(rule).data | {"threshold": 0.3})
    assert staff.post(f"/alerts/rules/{rule.pk}/edit/", form).status_code == 302
    rule.refresh_from_db()
    assert (rule.threshold, rule.warning, list(rule.channels.all())) == (0.3, 0.1, [channel])
