"""GPU jobs and their history: what a project member submits and the admission controller runs."""

import uuid
from decimal import Decimal
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from booking.models.gpu_types import GpuType
from booking.models.projects import Project
from booking.scheduler import WaitReason
from booking.scheduler.hours import hold_gpu_hours

# The database refuses anything beyond this; the configured limit (settings.JOBS_MAX_*) is
# lower and checked by job_submit with a specific error code. GPUs per job depend on the GPU
# type's GPUs per node, which the database cannot see from this table: job_submit checks them.
HARD_MAX_WALLTIME_MINUTES = 14 * 24 * 60


def submission_key(job_uuid: uuid.UUID | str, attempt: int) -> str:
    """A job's name on the cluster: its uuid, plus the attempt once staff requeued it."""
    return str(job_uuid) if attempt == 1 else f"{job_uuid}.{attempt}"


def ledger_key(job_uuid: uuid.UUID | str, attempt: int, movement: str) -> str:
    """Idempotency key of a job's ledger ``movement`` (hold, charge, release)."""
    return f"job-{job_uuid}-{movement}" if attempt == 1 else f"job-{job_uuid}-a{attempt}-{movement}"


class JobState(models.TextChoices):
    PENDING = "pending", _("Pending")
    ADMITTED = "admitted", _("Admitted")
    RUNNING = "running", _("Running")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")
    TIMEOUT = "timeout", _("Timed out")
    HELD = "held", _("Held")
    REJECTED = "rejected", _("Rejected")


class JobReason(models.TextChoices):
    """Why a job waits or is held (pending, held), or why it ended (in its history).

    The admission policy's reasons (``booking.scheduler.WaitReason``) are the first seven,
    with the same codes; every other code any service writes is here too. An admitted job
    keeps a reason while it has not started on the cluster: ``cluster_unavailable`` (it
    could not be sent yet), or why the cluster's own queue holds it (``cluster_queue``,
    ``budget``, ``project_limit``, ``booking_not_started``, ``held_by_staff``).
    """

    PRIORITY = WaitReason.PRIORITY.value, _("Priority")
    CAPACITY = WaitReason.CAPACITY.value, _("GPUs busy")
    BUDGET = WaitReason.BUDGET.value, _("Budget")
    TIER_CAP = WaitReason.TIER_CAP.value, _("Tier cap")
    PROJECT_LIMIT = WaitReason.PROJECT_LIMIT.value, _("Project limit")
    PROJECT_SUSPENDED = WaitReason.PROJECT_SUSPENDED.value, _("Project suspended")
    BOOKING_NOT_STARTED = WaitReason.BOOKING_NOT_STARTED.value, _("Booking not started")
    BUDGET_EXHAUSTED = "budget_exhausted", _("Budget exhausted")
    ALLOCATION_INACTIVE = "allocation_inactive", _("Allocation not active")
    NO_ALLOCATION = "no_allocation", _("No allocation")
    HELD_BY_STAFF = "held_by_staff", _("Held by staff")
    NODE_FAILURE = "node_failure", _("Node failure")
    LOST = "lost", _("Lost by the cluster")
    REJECTED = "rejected", _("Rejected by the cluster")
    CLUSTER_UNAVAILABLE = "cluster_unavailable", _("Cluster unavailable")
    CLUSTER_QUEUE = "cluster_queue", _("Queued on the cluster")
    OUT_OF_MEMORY = "out_of_memory", _("Out of memory")
    PREEMPTED = "preempted", _("Preempted")
    CANCELLED_ON_CLUSTER = "cancelled_on_cluster", _("Cancelled on the cluster")
    BOOKING_ENDED = "booking_ended", _("Booking ended")


ACTIVE_STATES = (JobState.ADMITTED, JobState.RUNNING)
"""States in which a job holds GPUs and GPU-hours."""
FINAL_STATES = (
    JobState.COMPLETED,
    JobState.FAILED,
    JobState.CANCELLED,
    JobState.TIMEOUT,
    JobState.REJECTED,
)
_ENDINGS = frozenset({JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.TIMEOUT})
JOB_TRANSITIONS: dict[str, frozenset[str]] = {
    JobState.PENDING: frozenset({JobState.ADMITTED, JobState.HELD, JobState.CANCELLED}),
    JobState.HELD: frozenset({JobState.PENDING, JobState.CANCELLED}),
    JobState.ADMITTED: _ENDINGS | {JobState.RUNNING, JobState.REJECTED, JobState.PENDING},
    JobState.RUNNING: _ENDINGS | {JobState.PENDING},
    JobState.COMPLETED: frozenset(),
    JobState.FAILED: frozenset({JobState.PENDING}),
    JobState.CANCELLED: frozenset({JobState.PENDING}),
    JobState.TIMEOUT: frozenset({JobState.PENDING}),
    JobState.REJECTED: frozenset({JobState.PENDING}),
}
"""The state moves a job may make (a move back to pending is a staff requeue or release)."""


def job_states_into(state: str) -> tuple[str, ...]:
    """The states a job may move to ``state`` from."""
    return tuple(source for source, targets in JOB_TRANSITIONS.items() if state in targets)


class Job(models.Model):
    """A batch job of one project on one GPU type; ``uuid`` travels to the cluster with it."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="jobs")
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="jobs"
    )
    gpu_type = models.ForeignKey(GpuType, on_delete=models.PROTECT, related_name="jobs")
    gpus = models.PositiveIntegerField(_("GPUs"))
    walltime_minutes = models.PositiveIntegerField(_("walltime (minutes)"))
    name = models.CharField(_("name"), max_length=200)
    script = models.TextField(_("batch script"), blank=True)
    container_image = models.CharField(_("container image"), max_length=500, blank=True)
    command = models.TextField(_("command"), blank=True)
    environment = models.JSONField(_("environment"), default=dict, blank=True)
    strict_order = models.BooleanField(
        _("strict order"),
        default=False,
        help_text=_("Start only after the project's earlier jobs of this GPU type."),
    )
    # The capacity booking a job runs in: only inside its window, on its nodes, paid by it.
    booking = models.ForeignKey(
        "booking.CapacityBooking",
        verbose_name=_("capacity booking"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="jobs",
    )

    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.PENDING)
    reason = models.CharField(
        _("why it waits"), max_length=32, choices=JobReason.choices, blank=True
    )
    estimated_start = models.DateTimeField(null=True, blank=True)
    attempt = models.PositiveSmallIntegerField(default=1)
    backend_job_id = models.CharField(max_length=64, blank=True)
    placement = models.JSONField(null=True, blank=True)  # [[node_index, gpus], ...]

    submitted_at = models.DateTimeField(default=timezone.now)
    admitted_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    expected_end = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    runtime_seconds = models.PositiveIntegerField(null=True, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    # What the cluster measured (Slurm's ConsumedEnergy), when it reports it.
    consumed_energy_joules = models.PositiveBigIntegerField(null=True, blank=True)

    idempotency_key = models.CharField(max_length=200, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)
    submit_response = models.JSONField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ("-submitted_at", "-pk")
        indexes: ClassVar = [
            models.Index(
                fields=["project", "gpu_type", "submitted_at", "id"],
                condition=models.Q(state="pending"),
                name="job_pending_queue",
            ),
            models.Index(
                fields=["gpu_type", "expected_end"],
                condition=models.Q(state__in=["admitted", "running"]),
                name="job_active_by_end",
            ),
            models.Index(fields=["state", "gpu_type"], name="job_state_type"),
            # A project's jobs of one state, oldest first: counts of its held and admitted jobs
            # and the first jobs of each state, without reading the rest of its queue.
            models.Index(
                fields=["project", "state", "submitted_at", "id"], name="job_project_state"
            ),
            # Newest first across a person's projects (the job list, the dashboard).
            models.Index(fields=["-submitted_at", "-id"], name="job_recent"),
            # Pending jobs submitted since the last cycle's queue record, whose ids are higher
            # than the record's last (pages add them): a range at the end of this index, where
            # job_pending_queue, which does not start with the id, would be read whole.
            models.Index(
                fields=["id"],
                condition=models.Q(state="pending"),
                name="job_pending_since",
            ),
            # The staff queue, oldest first, a page at a time.
            models.Index(
                fields=["submitted_at", "id"],
                condition=models.Q(state__in=["pending", "held", "admitted", "running"]),
                name="job_queued_by_submit",
            ),
            models.Index(fields=["project", "-submitted_at"], name="job_project_recent"),
        ]
        constraints: ClassVar = [
            models.CheckConstraint(condition=models.Q(gpus__gte=1), name="job_gpus_positive"),
            models.CheckConstraint(
                condition=models.Q(
                    walltime_minutes__gte=1, walltime_minutes__lte=HARD_MAX_WALLTIME_MINUTES
                ),
                name="job_walltime_in_range",
            ),
            models.CheckConstraint(
                condition=models.Q(state__in=JobState.values), name="job_state_known"
            ),
            models.CheckConstraint(
                condition=models.Q(reason__in=["", *JobReason.values]), name="job_reason_known"
            ),
            models.CheckConstraint(
                condition=(~models.Q(script="") & models.Q(container_image=""))
                | (models.Q(script="") & ~models.Q(container_image="")),
                name="job_script_or_container",
            ),
            models.CheckConstraint(
                condition=~models.Q(state__in=["admitted", "running"])
                | models.Q(admitted_at__isnull=False, placement__isnull=False),
                name="job_active_has_placement",
            ),
            models.CheckConstraint(
                condition=~models.Q(state="running") | models.Q(started_at__isnull=False),
                name="job_running_has_start",
            ),
            models.CheckConstraint(condition=models.Q(attempt__gte=1), name="job_attempt_positive"),
            models.UniqueConstraint(
                fields=["submitted_by", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="job_idempotency_key_once_per_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.uuid})"

    def get_state_display(self) -> str:  # type: ignore[no-redef]  # replaces the generated one
        """The state's label. Replaces Django's own, which builds a dict of every choice (and
        translates each label) on every call: 122 µs against 12 µs here, on every row of a list."""
        try:
            return str(JobState(self.state).label)
        except ValueError:  # a value that is no longer a choice shows as it is stored
            return str(self.state)

    @property
    def hold_gpu_hours(self) -> Decimal:
        """GPU-hours held on admission: gpus x walltime."""
        return hold_gpu_hours(self.gpus, self.walltime_minutes)

    @property
    def submission_key(self) -> str:
        return submission_key(self.uuid, self.attempt)

    def ledger_key(self, movement: str) -> str:
        return ledger_key(self.uuid, self.attempt, movement)

    def placement_tuple(self) -> tuple[tuple[int, int], ...]:
        return tuple((int(node), int(gpus)) for node, gpus in self.placement or ())


class JobEvent(models.Model):
    """One state transition of a job, time-stamped and readable by its project's members.

    Also the admission controller's change feed: it follows new events to keep its snapshot.
    """

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    from_state = models.CharField(max_length=16, choices=JobState.choices, blank=True)
    to_state = models.CharField(max_length=16, choices=JobState.choices)
    reason = models.CharField(max_length=32, choices=JobReason.choices, blank=True)
    message = models.CharField(max_length=500)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ("at", "pk")
        indexes: ClassVar = [models.Index(fields=["job", "at"], name="job_event_history")]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(reason__in=["", *JobReason.values]),
                name="job_event_reason_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.job_id}: {self.from_state or '∅'} → {self.to_state}"


class ClusterCancel(models.Model):
    """A job stopped in the platform's books whose cancel the cluster has not confirmed yet.
    Written in the transaction that stops the job, so the intent commits with the
    cancellation: the request sends it after its commit and deletes the row; whatever a
    crash, a timeout or a cluster outage left behind, the next reconcile sends."""

    key = models.CharField(max_length=100, unique=True)
    requested_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("requested_at", "pk")

    def __str__(self) -> str:
        return f"cancel {self.key}"
