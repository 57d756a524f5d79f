from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from clickpost_monitor.api import EventsView
from clickpost_monitor.errors import json_bad_request, json_page_not_found, json_server_error

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/events/", EventsView.as_view(), name="api-events"),  # ingest POST, list GET
    path("api/v1/", include("stats.api.urls")),
    path("api/v1/", include("tokens.urls")),  # ingest health per token
    path("api/v1/", include("alerts.urls")),  # rules, channels, silences, alerts, history
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file: the CSP allows no inline scripts.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("ingest.doors.urls")),  # the protocol doors: OTLP, Loki, Elasticsearch bulk
    path("", include("dashboard.urls")),  # the dashboard pages, login and logout
    path("alerts/", include("alerts.page_urls")),
    path(
        "reports/subscriptions/", include("subscriptions.urls")
    ),  # "email this report weekly"  # the page and its staff actions
]

handler400 = json_bad_request
handler404 = json_page_not_found
handler500 = json_server_error
