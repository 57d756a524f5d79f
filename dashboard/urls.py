from django.contrib.auth import views as auth_views
from django.urls import path

from dashboard import open_failures, views

urlpatterns = [
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),  # POST only
    path("", views.overview, name="overview"),
    path("overview/latency/", views.overview_latency, name="overview-latency"),
    path("events/", views.events, name="events"),
    path("events/<int:event_id>/", views.event_detail, name="event-detail"),
    path("waybills/<path:waybill>/", views.waybill, name="waybill"),
    path("orders/<path:order_id>/", views.order, name="order"),
    path("search/", views.search, name="search"),
    path("codes/", views.codes, name="codes"),
    path("reports/", views.weekly_report, name="reports"),
    path("reports/summary.csv", views.weekly_summary_csv, name="reports-summary"),
    path("open/", open_failures.open_failures_page, name="open-failures"),
    path("shippers/", views.shippers, name="shippers"),
]
