from django.urls import path

from alerts import api

urlpatterns = [
    path("alerts/", api.AlertsNow.as_view(), name="api-alerts"),
    path("alerts/history/", api.History.as_view(), name="api-alerts-history"),
    path("alerts/rules/", api.RuleList.as_view(), name="api-alert-rules"),
    path("alerts/rules/preview/", api.RulePreview.as_view(), name="api-alert-rule-preview"),
    path("alerts/rules/<int:id>/", api.RuleDetail.as_view(), name="api-alert-rule"),
    path("alerts/rules/<int:id>/test/", api.RuleTest.as_view(), name="api-alert-rule-test"),
    path("alerts/channels/", api.ChannelList.as_view(), name="api-alert-channels"),
    path("alerts/silences/", api.SilenceList.as_view(), name="api-alert-silences"),
    path("alerts/silences/<int:id>/", api.SilenceDetail.as_view(), name="api-alert-silence"),
]
