"""Shapes of the jobs API: the submission, a job in a list, a job with its history."""

from datetime import datetime
from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from booking.energy.api.serializers import JobEnergySerializer, job_energy_data
from booking.energy.selectors import job_energy
from booking.jobs.queue import JobStanding
from booking.jobs.services import (
    ENV_MAX_VALUE_CHARS,
    ENV_MAX_VARIABLES,
    ENV_NAME_MAX_CHARS,
    JOB_REASON_MAX_CHARS,
)
from booking.models import GpuType, Job, JobEvent, JobReason
from stargate_portal.api.fields import TextKeyDictField, id_field
from stargate_portal.input_limits import INT_MAX, column_max_length

# Outer bounds: ``job_submit`` checks the exact limits (script bytes, GPUs, walltime, the
# environment) with its own error codes; these only keep absurd input out of it.
_SCRIPT_MAX_CHARS = 2 * settings.JOBS_SCRIPT_MAX_BYTES
_ENV_VARIABLES_MAX = 10 * ENV_MAX_VARIABLES


class JobSubmitSerializer(serializers.Serializer):
    """A batch ``script`` (starting with ``#!``), or a ``container_image`` and ``command``."""

    project = id_field()
    gpu_type = serializers.CharField(max_length=column_max_length(GpuType, "name"))
    gpus = serializers.IntegerField(
        min_value=-INT_MAX,
        max_value=INT_MAX,
        help_text="1 up to the GPU type's GPUs per node, or a multiple of them (whole nodes).",
    )
    walltime_minutes = serializers.IntegerField(min_value=-INT_MAX, max_value=INT_MAX)
    name = serializers.CharField(
        max_length=column_max_length(Job, "name"), required=False, allow_blank=True, default=""
    )
    script = serializers.CharField(
        max_length=_SCRIPT_MAX_CHARS,
        required=False,
        allow_blank=True,
        default="",
        trim_whitespace=False,
    )
    container_image = serializers.CharField(
        max_length=column_max_length(Job, "container_image"),
        required=False,
        allow_blank=True,
        default="",
    )
    command = serializers.CharField(
        max_length=_SCRIPT_MAX_CHARS,
        required=False,
        allow_blank=True,
        default="",
        trim_whitespace=False,
    )
    environment = TextKeyDictField(
        key_max_length=ENV_NAME_MAX_CHARS,
        max_items=_ENV_VARIABLES_MAX,
        child=serializers.CharField(
            max_length=2 * ENV_MAX_VALUE_CHARS, allow_blank=True, trim_whitespace=False
        ),
        required=False,
        default=dict,
    )
    strict_order = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Start only after the project's earlier jobs of this GPU type (a "
        "dependency); otherwise a later job may backfill past a blocked earlier one.",
    )
    booking = id_field(
        required=False,
        allow_null=True,
        default=None,
        help_text="A capacity booking of the project to run in: the job starts only inside its "
        "window, on its nodes, and is paid by the booking.",
    )


def _reason() -> serializers.ChoiceField:
    """Why the job waits or is held, or why it ended (in its history); "" when none."""
    return serializers.ChoiceField(choices=JobReason.choices, allow_blank=True, read_only=True)


class JobSerializer(serializers.ModelSerializer):
    reason = _reason()
    project_name = serializers.CharField(source="project.name", read_only=True)
    gpu_type = serializers.CharField(source="gpu_type.name", read_only=True)
    submitted_by = serializers.EmailField(source="submitted_by.email", read_only=True)
    hold_gpu_hours = serializers.DecimalField(read_only=True, max_digits=14, decimal_places=4)
    booking = serializers.IntegerField(source="booking_id", read_only=True, allow_null=True)

    class Meta:
        model = Job
        fields: tuple[str, ...] = (
            "id",
            "uuid",
            "name",
            "project",
            "project_name",
            "gpu_type",
            "gpus",
            "walltime_minutes",
            "hold_gpu_hours",
            "state",
            "reason",
            "submitted_by",
            "submitted_at",
            "admitted_at",
            "started_at",
            "expected_end",
            "ended_at",
            "runtime_seconds",
            "exit_code",
            "attempt",
            "backend_job_id",
            "booking",
            "strict_order",
        )
        read_only_fields: tuple[str, ...] = fields


class JobEventSerializer(serializers.ModelSerializer):
    actor = serializers.EmailField(source="actor.email", read_only=True, default=None)
    reason = _reason()

    class Meta:
        model = JobEvent
        fields = ("at", "from_state", "to_state", "reason", "message", "actor")
        read_only_fields = fields


class WaitExplanationSerializer(serializers.Serializer):
    """Why a pending job waits for GPUs: the job its GPU type keeps room for (the backfill
    reservation of the latest admission cycle), and when that job is expected to start."""

    reserved_job = serializers.IntegerField(allow_null=True, read_only=True)
    reserved_job_tier = serializers.IntegerField(read_only=True)
    gpus = serializers.IntegerField(read_only=True, help_text="GPUs the reserved job needs.")
    whole_nodes = serializers.IntegerField(read_only=True, help_text="0: on one node.")
    expected_at = serializers.DateTimeField(allow_null=True, read_only=True)
    is_this_job = serializers.BooleanField(read_only=True)
    message = serializers.CharField(read_only=True)


class JobDetailSerializer(JobSerializer):
    """A job with its history; ``queue_position`` and ``estimated_start`` while pending, as of
    the last admission cycle (``queue_as_of``); a job the last cycle has not placed yet has
    ``queue_position`` null and ``queue_known_within_seconds`` set. ``wait_explanation`` when it
    waits for GPUs. ``cluster_cancel_pending``: the job is cancelled but the cluster has not
    taken the cancel yet (it may still run there; the platform sends it again until it does,
    and charges nothing more)."""

    history = JobEventSerializer(source="events", many=True, read_only=True)
    wait_explanation = serializers.SerializerMethodField()
    estimated_start = serializers.SerializerMethodField()
    queue_position = serializers.SerializerMethodField()
    queue_as_of = serializers.SerializerMethodField()
    queue_known_within_seconds = serializers.SerializerMethodField()
    energy = serializers.SerializerMethodField()
    cluster_cancel_pending = serializers.SerializerMethodField()

    class Meta(JobSerializer.Meta):
        fields = (
            *JobSerializer.Meta.fields,
            "estimated_start",
            "queue_position",
            "wait_explanation",
            "queue_as_of",
            "queue_known_within_seconds",
            "script",
            "container_image",
            "command",
            "environment",
            "history",
            "energy",
            "cluster_cancel_pending",
        )
        read_only_fields = fields

    def _standing(self) -> JobStanding:
        return self.context.get("standing") or JobStanding()

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_estimated_start(self, obj: Job) -> Any:
        return _datetime(self._standing().estimated_start)

    @extend_schema_field(OpenApiTypes.INT)
    def get_queue_position(self, obj: Job) -> int | None:
        return self._standing().position

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_queue_as_of(self, obj: Job) -> Any:
        return _datetime(self._standing().as_of)

    @extend_schema_field(OpenApiTypes.NUMBER)
    def get_queue_known_within_seconds(self, obj: Job) -> float | None:
        return self._standing().known_within_seconds

    @extend_schema_field(WaitExplanationSerializer(allow_null=True))
    def get_wait_explanation(self, obj: Job) -> dict[str, Any] | None:
        value = self.context.get("wait_explanation")
        return None if value is None else dict(WaitExplanationSerializer(value).data)

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_cluster_cancel_pending(self, obj: Job) -> bool:
        return bool(self.context.get("cluster_cancel_pending"))

    @extend_schema_field(JobEnergySerializer(allow_null=True))
    def get_energy(self, obj: Job) -> dict[str, Any] | None:
        """Energy, emissions and heat reused of the latest run, once accounted."""
        return job_energy_data(job_energy(obj))


def _datetime(value: datetime | None) -> Any:
    return None if value is None else serializers.DateTimeField().to_representation(value)


class JobReasonInputSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=JOB_REASON_MAX_CHARS, required=False, allow_blank=True, default=""
    )


class GpuTypeQueueSerializer(serializers.Serializer):
    """Jobs and GPUs per state (pending, held, admitted, running) and tier (1-4)."""

    gpu_type = serializers.CharField()
    total_gpus = serializers.IntegerField()
    usable_gpus = serializers.IntegerField()
    used_gpus = serializers.IntegerField()
    free_gpus = serializers.IntegerField()
    jobs = serializers.DictField(child=serializers.DictField(child=serializers.IntegerField()))
    gpus = serializers.DictField(child=serializers.DictField(child=serializers.IntegerField()))
