"""The alerts API (SPEC "Alerts"): thin views over alerts.services and alerts.selectors.

Reading takes a `read` token or a login; writing (rules, channels, silences, test sends) an
`admin` token or a staff login. The preview changes nothing, so reading suffices for it.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts import selectors, services
from alerts import serializers as s
from alerts.models import Channel, Rule, Silence
from tokens.auth import CanAdmin, CanRead, ReadThrottle


class AdminWrites:
    """Reads for `read`, writes for `admin` (or staff)."""

    throttle_classes = [ReadThrottle]

    def get_permissions(self):
        if self.request.method in SAFE_METHODS:
            return [CanRead()]
        return [CanAdmin()]


class RuleList(AdminWrites, generics.ListCreateAPIView):
    """Alert rules; POST creates one (400 names the field at fault)."""

    queryset = Rule.objects.prefetch_related("channels")
    serializer_class = s.RuleSerializer
    pagination_class = None


class RuleDetail(AdminWrites, generics.RetrieveUpdateDestroyAPIView):
    queryset = Rule.objects.prefetch_related("channels")
    serializer_class = s.RuleSerializer
    http_method_names = ["get", "patch", "delete"]
    lookup_url_kwarg = "id"


PreviewAnswer = inline_serializer(
    "RulePreview",
    {
        "start": serializers.DateTimeField(),
        "end": serializers.DateTimeField(),
        "days": serializers.IntegerField(),
        "firings": serializers.ListField(child=serializers.DictField()),
        "fired": serializers.IntegerField(),
        "resolved": serializers.IntegerField(),
    },
)


class RulePreview(APIView):
    """Replays an unsaved rule over the last `days` (default 14, at most 30)."""

    permission_classes = [CanRead]
    throttle_classes = [ReadThrottle]

    @extend_schema(request=s.PreviewSerializer, responses=PreviewAnswer)
    def post(self, request):
        body = s.PreviewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return Response(services.preview_rule(**body.validated_data))


class RuleTest(APIView):
    """Queues one test notification to each of the rule's channels and sends it now."""

    permission_classes = [CanAdmin]
    throttle_classes = [ReadThrottle]

    @extend_schema(request=None, responses=s.TransitionSerializer)
    def post(self, request, id: int):
        rule = generics.get_object_or_404(Rule, pk=id)
        outcome = services.send_test(rule=rule)
        return Response(outcome, status=status.HTTP_200_OK)


class ChannelList(AdminWrites, generics.ListCreateAPIView):
    queryset = Channel.objects.all()
    serializer_class = s.ChannelSerializer
    pagination_class = None

    def create(self, request, *args, **kwargs):
        body = s.ChannelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        channel = body.save()
        return Response(s.CreatedChannelSerializer(channel).data, status=status.HTTP_201_CREATED)


class SilenceList(AdminWrites, generics.ListCreateAPIView):
    queryset = Silence.objects.select_related("rule")
    serializer_class = s.SilenceSerializer
    pagination_class = None

    def perform_create(self, serializer):
        serializer.save(created_by=str(self.request.user)[:150])


class SilenceDetail(AdminWrites, generics.DestroyAPIView):
    lookup_field = "pk"
    lookup_url_kwarg = "id"
    queryset = Silence.objects.all()
    serializer_class = s.SilenceSerializer


class AlertsNow(APIView):
    """Alerts now: pending, firing and silenced, with value, threshold and since."""

    permission_classes = [CanRead]
    throttle_classes = [ReadThrottle]

    @extend_schema(responses=s.AlertNowSerializer(many=True))
    def get(self, request):
        return Response(s.AlertNowSerializer(selectors.alerts_now(), many=True).data)


class NewestFirst(CursorPagination):
    ordering = ("-at", "-id")
    page_size = 50


class History(generics.ListAPIView):
    """Transitions, newest first, cursor-paginated (`next`)."""

    permission_classes = [CanRead]
    throttle_classes = [ReadThrottle]
    serializer_class = s.TransitionSerializer
    pagination_class = NewestFirst

    def get_queryset(self):
        return selectors.history()
