"""Capacity API: availability per GPU type and hour; bookings (create, list, detail, cancel,
staff refund); calendar addresses and the iCalendar feed itself."""

from datetime import UTC, timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from booking.capacity.api import serializers as s
from booking.capacity.availability import availability
from booking.capacity.calendar import project_calendar
from booking.capacity.clock import booking_now
from booking.capacity.policies import policy_named
from booking.capacity.rules import hour_ceiling, hour_floor, max_booking_hours
from booking.capacity.selectors import (
    bookings_of,
    feed_for_token,
    feeds_of,
    project_calendar_bookings,
)
from booking.capacity.services.bookings import booking_cancel, booking_create, booking_refund
from booking.capacity.services.feeds import calendar_feed_create, calendar_feed_revoke
from booking.grants.selectors.projects import project_of
from booking.models import BookingState, CalendarFeed, CapacityBooking, GpuType
from stargate_portal.api.filters import NamedRowFilter, UtcIsoDateTimeFilter, state_filter
from stargate_portal.api.idempotency import idempotency_key, idempotency_key_parameter
from stargate_portal.api.throttling import AnonRateThrottle
from stargate_portal.api.views import UserScopedMixin, user_of
from stargate_portal.errors import ValidationFailed
from stargate_portal.input_limits import column_max_length

IDEMPOTENCY_KEY = idempotency_key_parameter(
    "Retrying with the same key returns the first booking and books nothing more."
)


def valid(serializer_class: type, data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def gpu_type_named(name: str) -> GpuType:
    gpu_type = GpuType.objects.filter(name__iexact=name.strip()).first()
    if gpu_type is None:
        raise ValidationFailed.on_field("gpu_type", _("Unknown GPU type."))
    return gpu_type


class AvailabilityView(APIView):
    """Free bookable nodes of a GPU type per hour, from ``start`` (default: the next whole
    hour) to ``end`` (default: 14 days later), whole UTC hours."""

    @extend_schema(
        parameters=[
            OpenApiParameter("gpu_type", str, required=True),
            OpenApiParameter("start", OpenApiTypes.DATETIME),
            OpenApiParameter("end", OpenApiTypes.DATETIME),
        ],
        responses=s.AvailabilitySerializer,
    )
    def get(self, request: Request) -> Response:
        query = valid(s.AvailabilityQuerySerializer, request.query_params)
        policy = policy_named(query["gpu_type"])
        if policy is None:
            raise ValidationFailed.on_field("gpu_type", _("Unknown GPU type."))
        gpu_type = policy.gpu_type
        start = hour_floor(query.get("start") or hour_ceiling(booking_now()))
        end = hour_ceiling(query.get("end") or start + timedelta(days=14))
        found = availability(gpu_type=gpu_type, policy=policy, starts_at=start, ends_at=end)
        data = {
            "gpu_type": gpu_type.name,
            "gpus_per_node": gpu_type.gpus_per_node,
            "site_nodes": found.site_nodes,
            "pool_nodes": found.pool_nodes,
            "horizon_days": {str(tier): days for tier, days in policy.horizons().items()},
            "max_hours": max_booking_hours(),
            "full_refund_hours": settings.CAPACITY_FULL_REFUND_HOURS,
            # The documented shape (``HourFreeSerializer``), built directly: 336 hours through
            # a serializer each would cost more than everything else of the request.
            "hours": [
                {
                    "starts_at": hour.starts_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "booked_nodes": hour.booked_nodes,
                    "free_nodes": hour.free_nodes,
                }
                for hour in found.hours
            ],
        }
        return Response(data)


class BookingFilter(filters.FilterSet):
    project = filters.NumberFilter(field_name="project_id")
    state = state_filter(BookingState.choices)
    gpu_type = NamedRowFilter(field_name="gpu_type")
    ends_after = UtcIsoDateTimeFilter(field_name="ends_at", lookup_expr="gt")
    starts_before = UtcIsoDateTimeFilter(field_name="starts_at", lookup_expr="lt")

    class Meta:
        model = CapacityBooking
        fields = ("project", "state", "gpu_type", "ends_after", "starts_before")


class BookingViewSet(
    UserScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Bookings of my projects, latest start first. Filter by ``project``, ``state``
    (repeatable), ``gpu_type``, ``ends_after``, ``starts_before``."""

    model = CapacityBooking
    serializer_class = s.BookingSerializer
    filterset_class = BookingFilter
    ordering_fields = ("starts_at", "created_at")
    ordering = ("-starts_at", "-pk")

    def scoped_queryset(self, user: User) -> QuerySet[CapacityBooking]:
        return bookings_of(user)

    @extend_schema(
        request=s.BookingCreateSerializer,
        responses={201: s.BookingSerializer},
        parameters=[IDEMPOTENCY_KEY],
    )
    def create(self, request: Request) -> Response:
        data = valid(s.BookingCreateSerializer, request.data)
        key = idempotency_key(
            request, max_length=column_max_length(CapacityBooking, "idempotency_key")
        )
        project = project_of(user_of(request), data["project"])
        creation = booking_create(
            user=user_of(request),
            project=project,
            gpu_type=gpu_type_named(data["gpu_type"]),
            node_count=data["node_count"],
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            name=data["name"],
            idempotency_key=key,
        )
        headers = {} if creation.created else {"Idempotent-Replayed": "true"}
        body = s.BookingSerializer(creation.booking).data
        return Response(body, status=status.HTTP_201_CREATED, headers=headers)

    @extend_schema(request=s.BookingCancelSerializer, responses=s.BookingSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        """Cancel: a full release at least 24 h before the start, no refund later (staff may
        refund with a reason)."""
        data = valid(s.BookingCancelSerializer, request.data)
        booking = booking_cancel(booking=self.get_object(), user=user_of(request), **data)
        return Response(s.BookingSerializer(booking).data)

    @extend_schema(request=s.ReasonSerializer, responses=s.BookingSerializer)
    @action(detail=True, methods=["post"])
    def refund(self, request: Request, pk: str) -> Response:
        """Staff: give back a charged booking's hours, with a reason."""
        data = valid(s.ReasonSerializer, request.data)
        booking = booking_refund(booking=self.get_object(), staff=user_of(request), **data)
        return Response(s.BookingSerializer(booking).data)


class CalendarFeedViewSet(
    UserScopedMixin, mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """My secret calendar addresses, one per project; making a new one revokes the old one;
    deleting one revokes it."""

    model = CalendarFeed
    serializer_class = s.CalendarFeedSerializer

    def scoped_queryset(self, user: User) -> QuerySet[CalendarFeed]:
        return feeds_of(user)

    @extend_schema(
        request=s.CalendarFeedCreateSerializer, responses={201: s.CalendarFeedCreatedSerializer}
    )
    def create(self, request: Request) -> Response:
        data = valid(s.CalendarFeedCreateSerializer, request.data)
        project = project_of(user_of(request), data["project"])
        made = calendar_feed_create(user=user_of(request), project=project)
        url = request.build_absolute_uri(reverse("capacity-feed", args=[made.token]))
        body = s.CalendarFeedCreatedSerializer(made.feed).data | {"url": url}
        return Response(body, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: CalendarFeed) -> None:
        calendar_feed_revoke(feed=instance, user=user_of(self.request))


class CalendarFeedView(APIView):
    """A project's bookings as iCalendar, at its secret address (no login: the token is the
    key). An unknown or revoked token is 404."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (AnonRateThrottle,)

    @extend_schema(responses={(200, "text/calendar"): OpenApiResponse(description="iCalendar")})
    def get(self, request: Request, token: str) -> HttpResponse:
        feed = feed_for_token(token)
        if feed is None:
            raise Http404
        now = booking_now()
        body = project_calendar(
            feed.project, project_calendar_bookings(feed.project, now=now), now=now
        )
        response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = f'inline; filename="bookings-{feed.project_id}.ics"'
        response["Cache-Control"] = "private, max-age=300"
        return response
