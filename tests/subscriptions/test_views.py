"""/reports/ "email this report weekly" (subscriptions/views.py): a user subscribes themselves in
one click, staff subscribe anyone; unsubscribe; "send now" reaches a real SMTP server."""

from __future__ import annotations

import pytest
from django.test import Client

from subscriptions.models import ReportSubscription

pytestmark = pytest.mark.django_db


def _client(django_user_model, name: str, *, staff: bool, email: str = "") -> Client:
    user = django_user_model.objects.create_user(name, email or f"{name}@example.com", "pw")
    user.is_staff = staff
    user.save()
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def staff(django_user_model) -> Client:
    return _client(django_user_model, "lead", staff=True)


@pytest.fixture
def reader(django_user_model) -> Client:
    return _client(django_user_model, "reader", staff=False)


WHEN = {"weekday": "1", "hour": "9", "zone": "Asia/Kolkata"}


def test_a_user_subscribes_themselves_in_one_click_and_unsubscribes(reader):
    reader.post("/reports/subscriptions/", WHEN | {"me": "1", "recipients": "boss@example.com"})
    subscription = ReportSubscription.objects.get()
    assert subscription.recipients == "reader@example.com"
    page = reader.get("/reports/").content.decode()
    assert "reader@example.com" in page and "Unsubscribe" in page
    reader.post(f"/reports/subscriptions/{subscription.pk}/unsubscribe/")
    assert not ReportSubscription.objects.exists()


def test_only_staff_subscribe_other_addresses_or_end_others_subscriptions(staff, reader):
    assert (
        reader.post("/reports/subscriptions/", WHEN | {"recipients": "x@example.com"}).status_code
        == 403
    )
    staff.post("/reports/subscriptions/", WHEN | {"recipients": "a@example.com, b@example.com"})
    subscription = ReportSubscription.objects.get()
    assert subscription.addresses() == ["a@example.com", "b@example.com"]
    assert "a@example.com" not in reader.get("/reports/").content.decode()
    for action in ("unsubscribe", "send"):
        url = f"/reports/subscriptions/{subscription.pk}/{action}/"
        assert reader.post(url).status_code == 403
    assert ReportSubscription.objects.count() == 1


def test_a_bad_address_or_hour_is_refused_naming_it(staff):
    response = staff.post(
        "/reports/subscriptions/", WHEN | {"recipients": "nobody", "hour": "24"}, follow=True
    )
    page = response.content.decode()
    assert "is not an e-mail address" in page and "hour" in page
    assert not ReportSubscription.objects.exists()


def test_send_now_mails_last_weeks_report_to_the_recipients(staff, inbox):
    staff.post("/reports/subscriptions/", WHEN | {"recipients": "ops@example.com"})
    subscription = ReportSubscription.objects.get()
    response = staff.post(f"/reports/subscriptions/{subscription.pk}/send/", follow=True)
    assert "Sent the report" in response.content.decode()
    ((recipients, message),) = inbox.received
    assert recipients == ["ops@example.com"]
    assert any(part.get_filename().endswith(".csv") for part in message.iter_attachments())
    assert ReportSubscription.objects.get().last_sent_week is None  # the schedule is untouched
