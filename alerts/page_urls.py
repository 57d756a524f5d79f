"""The /alerts/ page and its staff actions (alerts.pages)."""

from django.urls import path

from alerts import pages
from alerts.views import alerts_page

urlpatterns = [
    path("", alerts_page, name="alerts"),
    path("rules/new/", pages.rule_new, name="alerts-rule-new"),
    path("rules/<int:id>/edit/", pages.rule_edit, name="alerts-rule-edit"),
    path("rules/<int:id>/enable/", pages.rule_enable, name="alerts-rule-enable"),
    path("rules/<int:id>/delete/", pages.rule_delete, name="alerts-rule-delete"),
    path("channels/new/", pages.channel_new, name="alerts-channel-new"),
    path("channels/<int:id>/edit/", pages.channel_edit, name="alerts-channel-edit"),
    path("channels/<int:id>/delete/", pages.channel_delete, name="alerts-channel-delete"),
    path("channels/<int:id>/test/", pages.channel_test, name="alerts-channel-test"),
    path("now/<int:id>/silence/", pages.silence_alert, name="alerts-silence-alert"),
    path("silences/<int:id>/end/", pages.silence_end, name="alerts-silence-end"),
    path("mute-windows/new/", pages.mute_window_new, name="alerts-mute-new"),
    path("mute-windows/<int:id>/delete/", pages.mute_window_delete, name="alerts-mute-delete"),
]
