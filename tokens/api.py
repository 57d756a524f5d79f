"""`GET /api/v1/tokens/`: ingest health per token (a logged-in session or a `read` token)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from tokens.auth import CanRead, ReadThrottle
from tokens.health import token_health


class TokenHealthSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The token's first characters, to recognise it")
    scopes = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    revoked_at = serializers.DateTimeField(allow_null=True)
    accepted = serializers.IntegerField(help_text="Events stored since the token was made")
    duplicates = serializers.IntegerField(help_text="Events already stored (shipper retries)")
    rejected = serializers.IntegerField(help_text="Events refused by validation")
    last_used_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField(help_text="Why the last refusal happened ('' if none)")
    last_error_at = serializers.DateTimeField(allow_null=True)
    status = serializers.ChoiceField(
        choices=["ok", "errors", "unused", "revoked"],
        help_text="'errors' when the token's last request had a rejected event or was refused",
    )


class TokenHealthView(APIView):
    permission_classes = [CanRead]
    throttle_classes = [ReadThrottle]

    @extend_schema(responses=TokenHealthSerializer(many=True))
    def get(self, request):
        """Every token's accepted, duplicate and rejected counts, last use and last error."""
        return Response(TokenHealthSerializer(token_health(), many=True).data)
