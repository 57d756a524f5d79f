from django.contrib import admin

from ingest.models import ApiToken, CodeEntry, Courier


@admin.register(CodeEntry)
class CodeEntryAdmin(admin.ModelAdmin):
    list_display = ("code", "category", "meaning", "is_error", "retryable", "action")
    list_filter = ("category", "is_error", "retryable")
    search_fields = ("code", "meaning", "action")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created with `manage.py create_token` (the secret is shown only there)."""

    list_display = (
        "name",
        "prefix",
        "scopes",
        "accepted",
        "duplicates",
        "rejected",
        "last_used_at",
        "revoked_at",
    )
    readonly_fields = (
        "prefix",
        "digest",
        "created_at",
        "last_used_at",
        "accepted",
        "duplicates",
        "rejected",
        "last_error",
        "last_error_at",
    )

    def has_add_permission(self, request):
        return False


@admin.register(Courier)
class CourierAdmin(admin.ModelAdmin):
    list_display = ("cp_id", "name")
    search_fields = ("name",)
