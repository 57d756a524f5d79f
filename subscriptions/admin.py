from django.contrib import admin

from subscriptions.models import ReportSubscription


@admin.register(ReportSubscription)
class ReportSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("__str__", "enabled", "last_sent_week", "last_error")
    list_filter = ("enabled", "weekday")
    readonly_fields = ("last_sent_week", "last_error", "created")
