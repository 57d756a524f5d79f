"""A weekly report subscription: who gets the last week's report, on which day and hour where."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, validate_email
from django.db import models

from stats.window import parse_zone

WEEKDAYS = [
    (1, "Monday"),
    (2, "Tuesday"),
    (3, "Wednesday"),
    (4, "Thursday"),
    (5, "Friday"),
    (6, "Saturday"),
    (7, "Sunday"),
]


def split_recipients(text: str) -> list[str]:
    """`a@x, b@y` -> ["a@x", "b@y"] (commas, semicolons or whitespace between addresses)."""
    return [part for part in text.replace(";", ",").replace(" ", ",").split(",") if part]


def validate_recipients(text: str) -> None:
    addresses = split_recipients(text)
    if not addresses:
        raise ValidationError("give at least one e-mail address")
    for address in addresses:
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationError(f"{address!r} is not an e-mail address") from None


def validate_zone(name: str) -> None:
    try:
        parse_zone(name)
    except ValueError as error:
        raise ValidationError(str(error)) from None


def default_zone_name() -> str:
    return settings.TIME_ZONE


class ReportSubscription(models.Model):
    """Send the last whole ISO week's report to `recipients` once a week, from `weekday` at
    `hour` in `zone` (the week is also counted in `zone`). `last_sent_week` is the claim: the
    ISO week (e.g. 2026-W47) whose report was last sent."""

    name = models.CharField(max_length=100, blank=True)
    recipients = models.TextField(
        validators=[validate_recipients], help_text="E-mail addresses, separated by commas."
    )
    weekday = models.PositiveSmallIntegerField(choices=WEEKDAYS, default=1)
    hour = models.PositiveSmallIntegerField(
        default=9, validators=[MaxValueValidator(23)], help_text="Local hour, 0-23."
    )
    zone = models.CharField(max_length=64, default=default_zone_name, validators=[validate_zone])
    enabled = models.BooleanField(default=True)
    last_sent_week = models.CharField(max_length=8, null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        label = self.name or ", ".join(self.addresses())
        return f"{label} ({self.get_weekday_display()} {self.hour:02d}:00 {self.zone})"

    def addresses(self) -> list[str]:
        return split_recipients(self.recipients)
