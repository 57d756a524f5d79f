from django.urls import path

from ingest.api import views

urlpatterns = [
    path("events/", views.EventsView.as_view(), name="api-events"),
]
