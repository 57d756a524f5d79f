from django.urls import path

from subscriptions import views

urlpatterns = [
    path("", views.subscribe, name="report-subscribe"),
    path("<int:id>/unsubscribe/", views.unsubscribe, name="report-unsubscribe"),
    path("<int:id>/send/", views.send_now, name="report-send-now"),
]
