"""Shapes of the capacity API: availability, a booking, the create and cancel inputs, feeds."""

from datetime import datetime

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from booking.capacity.rules import refund_deadline
from booking.models import BookingState, CalendarFeed, CapacityBooking
from stargate_portal.api.fields import id_field
from stargate_portal.input_limits import INT_MAX


class HourFreeSerializer(serializers.Serializer):
    starts_at = serializers.DateTimeField()
    booked_nodes = serializers.IntegerField()
    free_nodes = serializers.IntegerField()


class AvailabilitySerializer(serializers.Serializer):
    """Free bookable nodes per hour; ``pool_nodes`` is the most any hour can have booked."""

    gpu_type = serializers.CharField()
    gpus_per_node = serializers.IntegerField()
    site_nodes = serializers.IntegerField()
    pool_nodes = serializers.IntegerField()
    horizon_days = serializers.DictField(
        child=serializers.IntegerField(), help_text="Days ahead each priority tier may book."
    )
    max_hours = serializers.IntegerField()
    full_refund_hours = serializers.IntegerField()
    hours = HourFreeSerializer(many=True)


class AvailabilityQuerySerializer(serializers.Serializer):
    gpu_type = serializers.CharField(max_length=32)
    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)


class BookingCreateSerializer(serializers.Serializer):
    """Whole nodes of one GPU type for whole UTC hours: ``[starts_at, ends_at)``."""

    project = id_field()
    gpu_type = serializers.CharField(max_length=32)
    node_count = serializers.IntegerField(min_value=1, max_value=INT_MAX)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class BookingCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    refund = serializers.BooleanField(
        required=False, default=False, help_text="Staff only: give the hours back although late."
    )


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class BookingSerializer(serializers.ModelSerializer):
    project_name = serializers.CharField(source="project.name", read_only=True)
    gpu_type = serializers.CharField(source="gpu_type.name", read_only=True)
    gpus = serializers.IntegerField(read_only=True)
    hours = serializers.IntegerField(read_only=True)
    state = serializers.ChoiceField(choices=BookingState.choices, read_only=True)
    created_by = serializers.EmailField(source="created_by.email", read_only=True)
    refund_deadline = serializers.SerializerMethodField()
    node_indices = serializers.ListField(
        child=serializers.IntegerField(), read_only=True, allow_null=True
    )

    class Meta:
        model = CapacityBooking
        fields: tuple[str, ...] = (
            "id",
            "uuid",
            "name",
            "project",
            "project_name",
            "gpu_type",
            "node_count",
            "gpus_per_node",
            "gpus",
            "starts_at",
            "ends_at",
            "hours",
            "gpu_hours",
            "state",
            "refund_deadline",
            "created_by",
            "created_at",
            "charged_at",
            "charge_problem",
            "released_at",
            "refunded_at",
            "cancelled_at",
            "cancel_reason",
            "node_indices",
            "reserved_at",
        )
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_refund_deadline(self, obj: CapacityBooking) -> datetime:
        """Cancelling at or before this moment releases the hours in full."""
        return refund_deadline(obj.starts_at)


class CalendarFeedSerializer(serializers.ModelSerializer):
    project_name = serializers.CharField(source="project.name", read_only=True)

    class Meta:
        model = CalendarFeed
        fields: tuple[str, ...] = ("id", "project", "project_name", "created_at")
        read_only_fields: tuple[str, ...] = fields


class CalendarFeedCreatedSerializer(CalendarFeedSerializer):
    url = serializers.URLField(read_only=True, help_text="Shown once: keep it secret.")

    class Meta(CalendarFeedSerializer.Meta):
        fields = (*CalendarFeedSerializer.Meta.fields, "url")
        read_only_fields = fields


class CalendarFeedCreateSerializer(serializers.Serializer):
    project = id_field()
