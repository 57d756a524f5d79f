"""Running alerting from the pages: the rule form (new, edit, duplicate), enable/disable and
delete; channels (add, edit, delete, send a test); silences (from a firing alert, end now) and
mute windows. Staff only: anyone else gets 403 and sees the pages without these buttons.

Thin: a rule and a channel are validated by the API's own serializers (alerts.forms turns the
submitted form into the API's body), so the page and the API accept the same things.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from alerts import services
from alerts.channels import SendFailed, channel_sender
from alerts.forms import (
    KIND_WORDS,
    channel_body,
    channel_inputs,
    form_values,
    matcher_inputs,
    rule_body,
    rule_sections,
    rule_values,
)
from alerts.messages import test_message
from alerts.metrics import units_for_script
from alerts.models import CHANNEL_KINDS, AlertState, Channel, MuteWindow, Rule, Silence
from alerts.serializers import ChannelSerializer, RuleSerializer, SilenceSerializer
from stats.window import parse_zone

SILENCE_LABELS = ("endpoint", "category", "code", "cp_id", "account_code")  # the serializer's
SILENCE_HOURS = (1, 4)


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Logged in (else the login page) and staff (else 403: the page is read-only for them)."""

    @wraps(view)
    @login_required
    def check(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_staff:
            return render(request, "alerts/forbidden.html", status=403)
        return view(request, *args, **kwargs)

    return check


# ---------------------------------------------------------------- rules


@staff_required
def rule_new(request: HttpRequest) -> HttpResponse:
    """A new rule; `?from=<id>` starts from a copy of that rule (Duplicate)."""
    source = request.GET.get("from", "")
    if request.method == "POST":
        return _save_rule(request, rule=None)
    values = rule_values(get_object_or_404(Rule, pk=source) if source.isdigit() else None)
    if source.isdigit():
        values["name"] = f"{values['name']} (copy)"
    return _rule_form(request, values=values, rule=None)


@staff_required
def rule_edit(request: HttpRequest, id: int) -> HttpResponse:
    rule = get_object_or_404(Rule, pk=id)
    if request.method == "POST":
        return _save_rule(request, rule=rule)
    return _rule_form(request, values=rule_values(rule), rule=rule)


def _save_rule(request: HttpRequest, *, rule: Rule | None) -> HttpResponse:
    serializer = RuleSerializer(rule, data=rule_body(request.POST))
    if not serializer.is_valid():
        errors = serializer.errors
        return _rule_form(request, values=form_values(request.POST), rule=rule, errors=errors)
    saved = services.save_rule(serializer)  # resolves the groups an edit ended
    messages.success(request, f"Saved the rule “{saved.name}”.")
    return redirect(f"/alerts/#rule-{saved.pk}")


def _rule_form(
    request: HttpRequest, *, values: dict, rule: Rule | None, errors: Any = None
) -> HttpResponse:
    errors = errors or {}
    sections = rule_sections(values, errors, rule_id=rule.pk if rule else None)
    context = {
        "nav": "alerts",
        "rule": rule,
        "sections": sections,
        "general_errors": [str(e) for e in errors.get("non_field_errors", [])],
        "error_fields": [f for s in sections for f in s.fields if f.errors],
        "units": units_for_script(),
    }
    return render(request, "alerts/rule_form.html", context, status=400 if errors else 200)


@staff_required
@require_POST
def rule_enable(request: HttpRequest, id: int) -> HttpResponse:
    """Disable or enable (the `enabled` field, as a PATCH of the API would)."""
    rule = get_object_or_404(Rule, pk=id)
    enabled = request.POST.get("enabled") == "1"
    serializer = RuleSerializer(rule, data={"enabled": enabled}, partial=True)
    if serializer.is_valid():
        services.save_rule(serializer)  # disabling resolves what fires
        messages.success(request, f"{'Enabled' if enabled else 'Disabled'} “{rule.name}”.")
    else:
        messages.error(request, f"“{rule.name}” is not valid any more: {serializer.errors}")
    return redirect(f"/alerts/#rule-{rule.pk}")


@staff_required
@require_POST
def rule_delete(request: HttpRequest, id: int) -> HttpResponse:
    rule = get_object_or_404(Rule, pk=id)
    rule.delete()
    messages.success(request, f"Deleted the rule “{rule.name}”.")
    return redirect("/alerts/#rules")


# ---------------------------------------------------------------- channels


@staff_required
def channel_new(request: HttpRequest) -> HttpResponse:
    return _channel(request, channel=None)


@staff_required
def channel_edit(request: HttpRequest, id: int) -> HttpResponse:
    return _channel(request, channel=get_object_or_404(Channel, pk=id))


def _channel(request: HttpRequest, *, channel: Channel | None) -> HttpResponse:
    errors: Any = {}
    if request.method == "POST":
        body = channel_body(request.POST, current=channel)
        serializer = ChannelSerializer(channel, data=body)
        if serializer.is_valid():
            saved = serializer.save()
            shown = (
                f" Its signing secret: {saved.secret}" if channel is None and saved.secret else ""
            )
            messages.success(request, f"Saved the channel “{saved.name}”.{shown}")
            return redirect(f"/alerts/#channel-{saved.pk}")
        errors = serializer.errors
    kind = request.POST.get("kind") or (channel.kind if channel else request.GET.get("kind"))
    context = {
        "nav": "alerts",
        "channel": channel,
        "kinds": [(k, KIND_WORDS.get(k, k)) for k in CHANNEL_KINDS],
        "kind": kind if kind in CHANNEL_KINDS else "webhook",
        "name": request.POST.get("name", channel.name if channel else ""),
        "enabled": ("enabled" in request.POST)
        if request.method == "POST"
        else (channel.enabled if channel else True),
        "inputs": channel_inputs(channel, request.POST if request.method == "POST" else None),
        "matchers": matcher_inputs(channel, request.POST if request.method == "POST" else None),
        "errors": {
            k: [str(r) for r in (v if isinstance(v, list) else [v])] for k, v in errors.items()
        },
    }
    return render(request, "alerts/channel_form.html", context, status=400 if errors else 200)


@staff_required
@require_POST
def channel_delete(request: HttpRequest, id: int) -> HttpResponse:
    channel = get_object_or_404(Channel, pk=id)
    channel.delete()
    messages.success(request, f"Deleted the channel “{channel.name}”.")
    return redirect("/alerts/#channels")


@staff_required
@require_POST
def channel_test(request: HttpRequest, id: int) -> HttpResponse:
    """Sends one message marked as a test to this channel now, and says what the receiver did."""
    channel = get_object_or_404(Channel, pk=id)
    probe = Rule(id=None, name="Test from the alerts page", metric="error_rate", threshold=0.05)
    now = timezone.now()
    message = test_message(
        rule=probe,
        summary=f"Test message to the channel {channel.name!r}; nothing is wrong.",
        at=now,
        key=f"cpm-test-channel-{channel.pk}-{uuid.uuid4().hex[:12]}",
    )
    try:
        channel_sender(channel).send(message, message_id=f"cpm-test-{uuid.uuid4().hex}")
    except SendFailed as failure:
        messages.error(request, f"The test to “{channel.name}” failed: {failure}")
    else:
        messages.success(request, f"Sent a test to “{channel.name}”: the receiver took it.")
    return redirect(f"/alerts/#channel-{channel.pk}")


# ---------------------------------------------------------------- silences and mute windows


@staff_required
@require_POST
def silence_alert(request: HttpRequest, id: int) -> HttpResponse:
    """Silences one alert (its rule and labels) for 1 h, 4 h or until a local time."""
    alert = get_object_or_404(AlertState.objects.select_related("rule"), pk=id)
    now = timezone.now()
    try:
        end = _silence_end(request.POST, now=now)
    except ValueError as error:
        messages.error(request, f"Not silenced: {error}")
        return redirect("/alerts/#now")
    body = {
        "rule": alert.rule_id,
        "matchers": {k: v for k, v in alert.labels.items() if k in SILENCE_LABELS},
        "start": now,
        "end": end,
        "comment": f"from the alerts page by {request.user}"[:300],
    }
    serializer = SilenceSerializer(data=body)
    if not serializer.is_valid():
        messages.error(request, f"Not silenced: {serializer.errors}")
        return redirect("/alerts/#now")
    serializer.save(created_by=str(request.user)[:150])
    messages.success(request, f"Silenced “{alert.rule.name}” until {_local(end)}.")
    return redirect("/alerts/#silences")


def _silence_end(data: Any, *, now: datetime) -> datetime:
    hours = data.get("hours", "")
    if hours:
        if not hours.isdigit() or int(hours) not in SILENCE_HOURS:
            raise ValueError("hours must be 1 or 4")
        return now + timedelta(hours=int(hours))
    try:
        zone = parse_zone(data.get("tz") or timezone.get_default_timezone_name())
        until = datetime.fromisoformat(data.get("until", "")).replace(tzinfo=zone)
    except ValueError:
        raise ValueError("give the end as a date and time") from None
    if until <= now:
        raise ValueError("the end is in the past")
    return until


def _local(moment: datetime) -> str:
    zone = parse_zone(timezone.get_default_timezone_name())
    return moment.astimezone(zone).strftime(f"%Y-%m-%d %H:%M ({zone.key})")


@staff_required
@require_POST
def silence_end(request: HttpRequest, id: int) -> HttpResponse:
    """Ends a silence now; the row stays, so the history says who silenced what and when."""
    silence = get_object_or_404(Silence, pk=id)
    now = timezone.now()
    Silence.objects.filter(pk=silence.pk).update(end=max(now, silence.start))
    messages.success(request, "Ended the silence.")
    return redirect("/alerts/#silences")


@staff_required
@require_POST
def mute_window_new(request: HttpRequest) -> HttpResponse:
    rule = request.POST.get("rule", "")
    window = MuteWindow(
        name=request.POST.get("name", "").strip(),
        rule=get_object_or_404(Rule, pk=rule) if rule.isdigit() else None,
        days=[int(d) for d in request.POST.getlist("days") if d.isdigit()],
        start_time=request.POST.get("start_time", ""),
        end_time=request.POST.get("end_time", ""),
        tz=request.POST.get("tz", "").strip(),
    )
    try:
        if not window.days:
            raise ValidationError({"days": ["choose at least one day"]})
        window.full_clean()
    except ValidationError as error:
        text = "; ".join(
            f"{k.replace('_', ' ')}: {' '.join(v)}" for k, v in error.message_dict.items()
        )
        messages.error(request, f"Mute window not added: {text}")
        return redirect("/alerts/#silences")
    window.save()
    messages.success(request, f"Added the mute window “{window.name}”.")
    return redirect("/alerts/#silences")


@staff_required
@require_POST
def mute_window_delete(request: HttpRequest, id: int) -> HttpResponse:
    get_object_or_404(MuteWindow, pk=id).delete()
    messages.success(request, "Deleted the mute window.")
    return redirect("/alerts/#silences")
