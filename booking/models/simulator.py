"""State of the simulated cluster, kept in the database so every worker process shares it."""

from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from booking.models.gpu_types import GpuType


class SimulatedClock(models.Model):
    """The simulator's clock: wall-clock time plus an offset that tests and demos advance, or,
    while ``frozen_at`` is set, that very time (it moves only when stepped)."""

    offset_seconds = models.FloatField(default=0.0)
    frozen_at = models.DateTimeField(null=True, blank=True)
    changes = models.PositiveBigIntegerField(
        default=0, help_text="Counter of job changes: each change of jobs takes the next value."
    )

    def __str__(self) -> str:
        if self.frozen_at is not None:
            return f"frozen at {self.frozen_at.isoformat()}"
        return f"wall clock + {self.offset_seconds:.0f} s"


class SimulatedPartition(models.Model):
    """The nodes of one GPU type; ``down_nodes`` lists failed node indices (0-based)."""

    gpu_type = models.OneToOneField(
        GpuType, on_delete=models.CASCADE, related_name="simulated_partition"
    )
    nodes = models.PositiveIntegerField()
    gpus_per_node = models.PositiveSmallIntegerField(default=8)
    down_nodes = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"{self.gpu_type_id}: {self.nodes} x {self.gpus_per_node}"


class SimulatedJobState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")
    TIMEOUT = "timeout", _("Timed out")
    NODE_FAIL = "node_fail", _("Node failure")


class SimulatedJob(models.Model):
    """A job on the simulated cluster; ``key`` is the platform's job uuid (exactly once)."""

    key = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    account = models.CharField(max_length=64)
    gpu_type = models.CharField(max_length=32)
    gpus = models.PositiveIntegerField()
    placement = models.JSONField()
    walltime_seconds = models.PositiveIntegerField()
    runtime_seconds = models.PositiveIntegerField(help_text="Until it ends, capped by walltime.")
    outcome = models.CharField(max_length=16, choices=SimulatedJobState.choices)
    exit_code = models.IntegerField(null=True, blank=True)
    state = models.CharField(
        max_length=16, choices=SimulatedJobState.choices, default=SimulatedJobState.QUEUED
    )
    submitted_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    change = models.PositiveBigIntegerField(
        default=0, help_text="The clock's change counter when this job last changed."
    )

    class Meta:
        indexes: ClassVar = [
            models.Index(fields=["state", "ends_at"], name="simjob_state_end"),
            models.Index(fields=["change"], name="simjob_change"),
        ]

    def __str__(self) -> str:
        return f"{self.pk} {self.key} {self.state}"


class SimulatedReservation(models.Model):
    """Whole nodes of one GPU type set aside for an account during ``[starts_at, ends_at)``."""

    name = models.CharField(max_length=100, unique=True)
    account = models.CharField(max_length=64)
    gpu_type = models.CharField(max_length=32)
    node_indices = models.JSONField()
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.name
