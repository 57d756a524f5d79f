from django.contrib import admin

from tokens.models import ApiToken


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
