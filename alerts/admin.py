from django.contrib import admin

from alerts.ending import end_rule_groups
from alerts.models import (
    AlertState,
    Channel,
    MuteWindow,
    Notification,
    Rule,
    Silence,
    Tick,
    Transition,
)


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    list_display = ("name", "metric", "group_by", "window_minutes", "threshold", "enabled")
    list_filter = ("enabled", "metric", "group_by")
    search_fields = ("name",)
    filter_horizontal = ("channels", "inhibited_by")
    readonly_fields = ("last_error", "last_error_at", "created_at", "updated_at")

    def save_related(self, request, form, formsets, change):
        """After the rule and its relations are saved: resolve the groups it no longer has
        (deleting is alerts.ending's pre_delete, for one rule or many)."""
        super().save_related(request, form, formsets, change)
        end_rule_groups(form.instance)


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "enabled", "matchers")
    list_filter = ("kind", "enabled")


@admin.register(AlertState)
class AlertStateAdmin(admin.ModelAdmin):
    list_display = ("rule", "group_key", "status", "severity", "value", "since", "silenced")
    list_filter = ("status", "severity", "silenced")


@admin.register(Transition)
class TransitionAdmin(admin.ModelAdmin):
    list_display = ("at", "rule_name", "group_key", "kind", "reason", "severity", "value", "notify")
    list_filter = ("kind", "reason", "silenced", "inhibited")
    date_hierarchy = "at"


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("id", "rule", "channel", "status", "attempts", "next_attempt_at")
    list_filter = ("status",)
    readonly_fields = ("message",)


@admin.register(Silence)
class SilenceAdmin(admin.ModelAdmin):
    list_display = ("id", "rule", "matchers", "start", "end", "comment")


@admin.register(MuteWindow)
class MuteWindowAdmin(admin.ModelAdmin):
    list_display = ("name", "rule", "days", "start_time", "end_time", "tz")


@admin.register(Tick)
class TickAdmin(admin.ModelAdmin):
    list_display = ("minute", "evaluated_at", "rules", "transitions", "duration_ms")
