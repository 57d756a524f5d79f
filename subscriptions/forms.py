"""The "email this report weekly" form of /reports/: a ModelForm, so the page checks what the
model checks (addresses, hour, zone)."""

from __future__ import annotations

from django import forms

from subscriptions.models import ReportSubscription


class SubscriptionForm(forms.ModelForm):
    class Meta:
        model = ReportSubscription
        fields = ["recipients", "weekday", "hour", "zone"]
        widgets = {
            "recipients": forms.TextInput(attrs={"placeholder": "a@example.com, b@example.com"})
        }
