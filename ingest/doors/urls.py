"""Routes of the protocol doors, mounted at the site root (where the protocols' clients expect
them), and the token-health API. `GET /` for Elasticsearch clients is ingest.doors.middleware."""

from django.urls import path

from ingest.doors import views
from tokens.api import TokenHealthView

otlp = views.OtlpLogsView.as_view()
bulk = views.BulkView.as_view()

urlpatterns = [
    path("v1/logs", otlp, name="otlp-logs"),
    path("api/v1/otlp/v1/logs", otlp, name="api-otlp-logs"),
    path("loki/api/v1/push", views.LokiPushView.as_view(), name="loki-push"),
    path("_bulk", bulk, name="es-bulk"),
    path("<str:index>/_bulk", bulk, name="es-index-bulk"),
    path("_cat/health", views.CatHealthView.as_view(), name="es-cat-health"),
    path("_cluster/health", views.ClusterHealthView.as_view(), name="es-cluster-health"),
    path("api/v1/tokens/", TokenHealthView.as_view(), name="api-tokens"),
]
