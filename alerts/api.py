"""The alerts API (SPEC "Alerts"): thin views over alerts.services and alerts.selectors.

Reading takes a `read` token or a login; writing (rules, channels, silences, test sends) an
`admin` token or a staff login. The preview changes nothing, so reading suffices for it.
"""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts import selectors, services
from alerts import serializers as s
from alerts.models import Channel, Rule, Silence
from stats.api.serializers import ErrorOut  # the API's one error shape
from tokens.auth import CanAdmin, CanRead, ReadThrottle

_WHY = {
    400: "A field is wrong: `error` names it, `detail` lists every field's reasons.",
    401: "No session and no token, or a bad one.",
    403: "Reading needs `read` (or `admin`); changing alerts needs `admin` or a staff login.",
    404: "No such rule or silence.",
    429: "Over the token's rate; see Retry-After.",
}


def answers(ok: dict, *codes: int) -> dict:
    """A method's responses: what it answers when all is well, and its documented errors."""
    return ok | {code: OpenApiResponse(ErrorOut, description=_WHY[code]) for code in codes}


READ_ERRORS, WRITE_ERRORS = (401, 403, 429), (400, 401, 403, 429)


def is_staff(request, view) -> bool:
    """A staff login or an `admin` token: those who see receivers' error texts."""
    return CanAdmin().has_permission(request, view)


class AdminWrites(generics.GenericAPIView):
    """Reads for `read`, writes for `admin` (or staff)."""

    throttle_classes = [ReadThrottle]

    def get_permissions(self):
        if self.request.method in SAFE_METHODS:
            return [CanRead()]
        return [CanAdmin()]

    def get_serializer_context(self):
        context = super().get_serializer_context()
        return context | {"staff": is_staff(self.request, self)}


@extend_schema_view(
    get=extend_schema(responses=answers({200: s.RuleSerializer(many=True)}, *READ_ERRORS)),
    post=extend_schema(responses=answers({201: s.RuleSerializer}, *WRITE_ERRORS)),
)
class RuleList(AdminWrites, generics.ListCreateAPIView):
    """Alert rules; POST creates one (400 names the field at fault)."""

    queryset = Rule.objects.prefetch_related("channels", "inhibited_by")
    serializer_class = s.RuleSerializer
    pagination_class = None


@extend_schema_view(
    get=extend_schema(responses=answers({200: s.RuleSerializer}, *READ_ERRORS, 404)),
    patch=extend_schema(responses=answers({200: s.RuleSerializer}, *WRITE_ERRORS, 404)),
    delete=extend_schema(responses=answers({204: None}, *READ_ERRORS, 404)),
)
class RuleDetail(AdminWrites, generics.RetrieveUpdateDestroyAPIView):
    """A rule; disabling, editing or deleting it resolves the groups it no longer has."""

    queryset = Rule.objects.prefetch_related("channels", "inhibited_by")
    serializer_class = s.RuleSerializer
    http_method_names = ["get", "patch", "delete"]
    lookup_url_kwarg = "id"

    def perform_update(self, serializer):
        services.save_rule(serializer)

    def perform_destroy(self, instance):
        services.delete_rule(instance)


PreviewAnswer = inline_serializer(
    "RulePreview",
    {
        "start": serializers.DateTimeField(),
        "end": serializers.DateTimeField(),
        "days": serializers.IntegerField(),
        "firings": serializers.ListField(child=serializers.DictField()),
        "fired": serializers.IntegerField(),
        "resolved": serializers.IntegerField(),
        "longest_minutes": serializers.IntegerField(allow_null=True),
        "summary": serializers.CharField(),
        "figure": serializers.DictField(allow_null=True),
    },
)


class RulePreview(APIView):
    """Replays an unsaved rule over the last `days` (default 14, at most 30)."""

    permission_classes = [CanRead]
    throttle_classes = [ReadThrottle]

    @extend_schema(
        request=s.PreviewSerializer, responses=answers({200: PreviewAnswer}, *WRITE_ERRORS)
    )
    def post(self, request):
        body = s.PreviewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return Response(services.preview_rule(**body.validated_data))


TestAnswer = inline_serializer(
    "RuleTestSent",
    {"transition": serializers.IntegerField(), "channels": serializers.ListField()},
)


class RuleTest(APIView):
    """Queues one test notification to each of the rule's channels and sends it now."""

    permission_classes = [CanAdmin]
    throttle_classes = [ReadThrottle]

    @extend_schema(request=None, responses=answers({200: TestAnswer}, *READ_ERRORS, 404))
    def post(self, request, id: int):
        rule = generics.get_object_or_404(Rule, pk=id)
        outcome = services.send_test(rule=rule)
        return Response(outcome, status=status.HTTP_200_OK)


@extend_schema_view(
    get=extend_schema(responses=answers({200: s.ChannelSerializer(many=True)}, *READ_ERRORS)),
    post=extend_schema(responses=answers({201: s.ChannelSerializer}, *WRITE_ERRORS)),
)
class ChannelList(AdminWrites, generics.ListCreateAPIView):
    queryset = Channel.objects.all()
    serializer_class = s.ChannelSerializer
    pagination_class = None

    def create(self, request, *args, **kwargs):
        body = s.ChannelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        channel = body.save()
        return Response(s.CreatedChannelSerializer(channel).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(responses=answers({200: s.SilenceSerializer(many=True)}, *READ_ERRORS)),
    post=extend_schema(responses=answers({201: s.SilenceSerializer}, *WRITE_ERRORS)),
)
class SilenceList(AdminWrites, generics.ListCreateAPIView):
    queryset = Silence.objects.select_related("rule")
    serializer_class = s.SilenceSerializer
    pagination_class = None

    def perform_create(self, serializer):
        serializer.save(created_by=str(self.request.user)[:150])


@extend_schema_view(delete=extend_schema(responses=answers({204: None}, *READ_ERRORS, 404)))
class SilenceDetail(AdminWrites, generics.DestroyAPIView):
    lookup_field = "pk"
    lookup_url_kwarg = "id"
    queryset = Silence.objects.all()
    serializer_class = s.SilenceSerializer


class AlertsNow(APIView):
    """Alerts now: pending, firing and silenced, with value, threshold and since."""

    permission_classes = [CanRead]
    throttle_classes = [ReadThrottle]

    @extend_schema(responses=answers({200: s.AlertNowSerializer(many=True)}, *READ_ERRORS))
    def get(self, request):
        return Response(s.AlertNowSerializer(selectors.alerts_now(), many=True).data)


class NewestFirst(CursorPagination):
    ordering = ("-at", "-id")
    page_size = 50

    def decode_cursor(self, request):
        """A cursor that this API did not give is a 400 naming `cursor` (DRF says 404)."""
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError(
                {"cursor": ["is not a cursor this API gave: follow `next`."]}
            ) from None


@extend_schema_view(
    get=extend_schema(
        responses=answers({200: s.TransitionSerializer(many=True)}, 400, *READ_ERRORS)
    )
)
class History(generics.ListAPIView):
    """Transitions, newest first, cursor-paginated (`next`)."""

    permission_classes = [CanRead]
    throttle_classes = [ReadThrottle]
    serializer_class = s.TransitionSerializer
    pagination_class = NewestFirst

    def get_serializer_context(self):
        return super().get_serializer_context() | {"staff": is_staff(self.request, self)}

    def get_queryset(self):
        return selectors.history()
