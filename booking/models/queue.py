"""The queue as the last admission cycle left it, published so that requests read it in O(1).

Written by ``booking.admission.standing`` in the cycle's transaction (readers see the previous
cycle's rows until it commits), read by ``booking.jobs.queue``. The figures are computed by
the pure policy (``booking.scheduler.standing``), where their meaning is documented.
"""

from typing import ClassVar

from django.db import models

from booking.models.gpu_types import GpuType
from booking.models.projects import Project


class QueueOutlook(models.Model):
    """One GPU type after the last cycle: its GPUs, and when running jobs free how many."""

    gpu_type = models.OneToOneField(GpuType, on_delete=models.CASCADE, related_name="outlook")
    published_at = models.DateTimeField(help_text="The cycle's clock when it was published.")
    last_job_id = models.BigIntegerField(
        null=True,
        help_text="The highest job id when the cycle began: jobs with a higher one were "
        "submitted since its record (ids, unlike clocks, never disagree with each other).",
    )
    total_gpus = models.PositiveIntegerField()
    usable_gpus = models.PositiveIntegerField()
    used_gpus = models.PositiveIntegerField()
    releases = models.JSONField(default=list, help_text="[[epoch seconds, GPUs freed by then]]")
    tiers = models.JSONField(
        default=dict,
        help_text='{"<tier>": [pending jobs, pending GPUs, active jobs, active GPUs]}: the sums '
        "of this type's standings, per tier (the queue overview reads them, not the standings).",
    )

    def __str__(self) -> str:
        return f"{self.gpu_type_id}: {self.used_gpus}/{self.usable_gpus} GPUs used"


class QueueStanding(models.Model):
    """A project's queue of one GPU type after the last cycle (rank null: nothing pending).

    Every cycle replaces all rows, so they carry no foreign-key constraints and only the
    indexes readers use: each constraint or index costs every row of every cycle.
    """

    outlook = models.ForeignKey(
        QueueOutlook,
        on_delete=models.CASCADE,
        related_name="standings",
        db_constraint=False,
        db_index=False,
    )
    gpu_type = models.ForeignKey(
        GpuType, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    tier = models.PositiveSmallIntegerField()
    rank = models.PositiveIntegerField(null=True)
    jobs_ahead = models.PositiveIntegerField()
    gpus_ahead = models.PositiveBigIntegerField()
    gpu_minutes_ahead = models.PositiveBigIntegerField()
    pending_jobs = models.PositiveIntegerField()
    pending_gpus = models.PositiveBigIntegerField()
    pending_gpu_minutes = models.PositiveBigIntegerField()
    active_jobs = models.PositiveIntegerField()
    active_gpus = models.PositiveBigIntegerField()
    marks = models.JSONField(
        default=list,
        help_text="[[submit epoch, job id, index, GPUs before, GPU-minutes before]]",
    )

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["gpu_type", "project"], name="queue_standing_unique")
        ]

    def __str__(self) -> str:
        return f"{self.gpu_type_id}/{self.project_id}: rank {self.rank}"
