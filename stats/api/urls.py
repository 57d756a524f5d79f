from django.urls import path

from stats.api import views

urlpatterns = [
    path("events/<str:event_id>/", views.EventDetailView.as_view(), name="api-event"),
    # `path`: a waybill or order id may hold "/" (sent as %2F, which the server decodes).
    path("waybills/<path:value>/", views.WaybillView.as_view(), name="api-waybill"),
    path("orders/<path:value>/", views.OrderView.as_view(), name="api-order"),
    path("stats/timeseries/", views.TimeseriesView.as_view(), name="api-timeseries"),
    path("stats/latency/", views.LatencyView.as_view(), name="api-latency"),
    path("stats/breakdown/", views.BreakdownView.as_view(), name="api-breakdown"),
    path("codes/", views.CodesView.as_view(), name="api-codes"),
    path("open-failures/", views.OpenFailuresView.as_view(), name="api-open-failures"),
    path(
        "open-failures/summary/",
        views.OpenFailureSummaryView.as_view(),
        name="api-open-failures-summary",
    ),
    path("open-failures/dismiss/", views.DismissView.as_view(), name="api-open-failures-dismiss"),
    path(
        "open-failures/dismissed/",
        views.DismissedView.as_view(),
        name="api-open-failures-dismissed",
    ),
    path("reports/weekly/", views.WeeklyReportView.as_view(), name="api-weekly-report"),
]
