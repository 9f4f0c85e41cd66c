"""What the admission controller keeps: each project's decayed usage, and a log of its cycles."""

from typing import ClassVar

from django.db import models

from booking.models.gpu_types import GpuType
from booking.models.projects import Project


class FairShareUsage(models.Model):
    """A project's recent GPU-hours, decayed lazily: the value as of ``as_of``.

    Readers decay it the rest of the way (``booking.scheduler.decayed``); writers add to the
    decayed value and move ``as_of`` to now. Admission adds the hold (gpus x walltime), so a
    project that just got many jobs waits behind others; completion corrects it to the runtime.
    """

    project = models.OneToOneField(
        Project, primary_key=True, on_delete=models.CASCADE, related_name="fair_share_usage"
    )
    decayed_usage_gpu_hours = models.FloatField(default=0.0)
    as_of = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.project_id}: {self.decayed_usage_gpu_hours:.1f} h as of {self.as_of}"


class AdmissionCycle(models.Model):
    """One admission cycle that ran (a cycle that found another one running is not logged)."""

    started_at = models.DateTimeField(db_index=True)
    duration_ms = models.FloatField()
    snapshot_ms = models.FloatField()
    policy_ms = models.FloatField()
    apply_ms = models.FloatField()
    full_reload = models.BooleanField(default=False)
    pending_jobs = models.PositiveIntegerField()
    queue_heads = models.PositiveIntegerField()
    jobs_examined = models.PositiveIntegerField()
    admissions = models.PositiveIntegerField()
    skipped = models.PositiveIntegerField(
        default=0, help_text="Admissions decided but not applied (cancelled meanwhile, no hold)."
    )

    class Meta:
        ordering = ("-started_at", "-pk")

    def __str__(self) -> str:
        return f"{self.started_at}: {self.admissions} admitted in {self.duration_ms:.0f} ms"


class AdmissionReservation(models.Model):
    """The job one cycle kept room for on a GPU type (EASY backfill) and when it could start:
    why the jobs behind it waited. Written with the cycle, pruned with it."""

    cycle = models.ForeignKey(AdmissionCycle, on_delete=models.CASCADE, related_name="reservations")
    gpu_type = models.ForeignKey(GpuType, on_delete=models.CASCADE, related_name="+")
    job = models.ForeignKey(
        "booking.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tier = models.PositiveSmallIntegerField()
    gpus = models.PositiveIntegerField()
    shadow_time = models.DateTimeField(
        null=True, blank=True, help_text="When its GPUs free up; empty: not foreseeable."
    )

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["gpu_type", "cycle"], name="reservation_per_type"),
            models.CheckConstraint(condition=models.Q(tier__gte=1), name="reservation_tier"),
        ]

    def __str__(self) -> str:
        return f"cycle {self.cycle_id}, {self.gpu_type_id}: job {self.job_id}"


class ReconcileCursor(models.Model):
    """Where reconcile stands with one cluster backend: the backend's change cursor, and how
    far its safety net (a full check of the active jobs, a slice per run) has come: jobs up to
    ``checked_up_to``, the last pass over all of them finished at ``full_at`` (wall time)."""

    backend = models.CharField(max_length=200, unique=True)
    cursor = models.CharField(max_length=200, blank=True)
    checked_up_to = models.PositiveBigIntegerField(default=0)
    full_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.backend}: {self.cursor or '-'}"
