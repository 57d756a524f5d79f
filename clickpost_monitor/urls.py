from django.contrib import admin
from django.urls import include, path

from ingest.api.errors import json_page_not_found, json_server_error

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("ingest.api.urls")),
]

handler404 = json_page_not_found
handler500 = json_server_error
