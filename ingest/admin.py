from django.contrib import admin

from ingest.models import CodeEntry, Courier


@admin.register(CodeEntry)
class CodeEntryAdmin(admin.ModelAdmin):
    list_display = ("code", "category", "meaning", "is_error", "retryable", "action")
    list_filter = ("category", "is_error", "retryable")
    search_fields = ("code", "meaning", "action")


@admin.register(Courier)
class CourierAdmin(admin.ModelAdmin):
    list_display = ("cp_id", "name")
    search_fields = ("name",)
