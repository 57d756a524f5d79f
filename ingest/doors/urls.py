"""Routes of the protocol doors (SPEC "Protocol doors"), mounted at the site root (where the
protocols' clients expect them). `GET /` for Elasticsearch clients is ingest.doors.middleware."""

from django.urls import path

from ingest.doors import views

otlp = views.OtlpLogsView.as_view()
bulk = views.BulkView.as_view()
hec = views.SplunkHecView.as_view()
betterstack = views.BetterStackView.as_view()
logzio = views.LogzioView.as_view()

urlpatterns = [
    path("v1/logs", otlp, name="otlp-logs"),
    path("api/v1/otlp/v1/logs", otlp, name="api-otlp-logs"),
    path("loki/api/v1/push", views.LokiPushView.as_view(), name="loki-push"),
    path("_bulk", bulk, name="es-bulk"),
    # The same door; the OpenAPI schema describes it once, as /_bulk (its text names this one).
    path("<str:index>/_bulk", views.BulkView.as_view(schema=None), name="es-index-bulk"),
    path("_cat/health", views.CatHealthView.as_view(), name="es-cat-health"),
    path("_cluster/health", views.ClusterHealthView.as_view(), name="es-cluster-health"),
    path("services/collector", hec, name="splunk-hec"),
    path("services/collector/event", hec, name="splunk-hec-event"),
    path("services/collector/event/1.0", hec, name="splunk-hec-event-1.0"),
    path("api/events/raw", views.SeqView.as_view(), name="seq-raw"),
    path("ingest/clef", views.SeqView.as_view(clef=True), name="seq-clef"),
    # Both spellings: a client's base URL may or may not end in "/", and APPEND_SLASH cannot
    # redirect a POST. The OpenAPI schema describes the one with the slash.
    path("betterstack/", betterstack, name="betterstack"),
    path("betterstack", views.BetterStackView.as_view(schema=None), name="betterstack-no-slash"),
    path("logzio/", logzio, name="logzio"),
    path("logzio", views.LogzioView.as_view(schema=None), name="logzio-no-slash"),
]
