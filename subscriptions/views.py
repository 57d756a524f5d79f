"""Weekly report subscriptions from /reports/: subscribe (yourself in one click, or, as staff,
any addresses), unsubscribe, and "send now" to check the report arrives.

Anyone logged in may subscribe themselves and end or test their own subscription (one whose
only recipient is their address); everything else is staff's (403 otherwise).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from stats.window import parse_zone
from subscriptions.forms import SubscriptionForm
from subscriptions.mail import last_week, send_report
from subscriptions.models import ReportSubscription

FORBIDDEN = "Only staff may change other people's report subscriptions."


def _back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})
    return redirect(
        (target if safe and target.startswith("/reports/") else "/reports/") + "#subscriptions"
    )


def _email(request: HttpRequest) -> str:
    return str(getattr(request.user, "email", "") or "")


def is_own(request: HttpRequest, subscription: ReportSubscription) -> bool:
    """The subscription sends only to the user's own address."""
    email = _email(request).lower()
    return bool(email) and [a.lower() for a in subscription.addresses()] == [email]


@login_required
@require_POST
def subscribe(request: HttpRequest) -> HttpResponse:
    data = request.POST.copy()
    if "me" in data:
        if not _email(request):
            messages.error(request, "Your account has no e-mail address: ask staff to add one.")
            return _back(request)
        data["recipients"] = _email(request)
    elif not request.user.is_staff:
        return HttpResponseForbidden(FORBIDDEN)
    form = SubscriptionForm(data)
    if not form.is_valid():
        reasons = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in form.errors.items())
        messages.error(request, f"Not subscribed: {reasons}")
        return _back(request)
    subscription = form.save()
    messages.success(request, f"Subscribed: {subscription}.")
    return _back(request)


@login_required
@require_POST
def unsubscribe(request: HttpRequest, id: int) -> HttpResponse:
    subscription = get_object_or_404(ReportSubscription, pk=id)
    if not (request.user.is_staff or is_own(request, subscription)):
        return HttpResponseForbidden(FORBIDDEN)
    subscription.delete()
    messages.success(request, f"Unsubscribed: {subscription}.")
    return _back(request)


@login_required
@require_POST
def send_now(request: HttpRequest, id: int) -> HttpResponse:
    """Sends last week's report to the subscription's recipients now (the schedule is kept)."""
    subscription = get_object_or_404(ReportSubscription, pk=id)
    if not (request.user.is_staff or is_own(request, subscription)):
        return HttpResponseForbidden(FORBIDDEN)
    zone = parse_zone(subscription.zone)
    week = last_week(timezone.now(), zone)
    try:
        send_report(week=week, tz=zone, to=subscription.addresses())
    except Exception as error:  # noqa: BLE001 - SMTP, DNS, refused: the page says why
        messages.error(request, f"The report for {week} was not sent: {error}")
    else:
        messages.success(request, f"Sent the report for {week} to {subscription.recipients}.")
    return _back(request)
