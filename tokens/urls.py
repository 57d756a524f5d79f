from django.urls import path

from tokens.api import TokenHealthView

urlpatterns = [
    path("tokens/", TokenHealthView.as_view(), name="api-tokens"),
]
