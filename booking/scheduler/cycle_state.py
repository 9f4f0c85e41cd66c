"""What one cycle has decided so far, shared by the GPU types: usage, budgets, outcomes."""

from __future__ import annotations

from booking.scheduler.fair_share import decayed, fair_share_factor
from booking.scheduler.jobs import PendingJob, Placement
from booking.scheduler.outcome import Admission, CycleResult, CycleStats, Reservation, WaitReason
from booking.scheduler.snapshot import PolicyConfig, Project, Snapshot


class CycleState:
    """In-cycle ledger of one admission cycle; the snapshot itself stays untouched."""

    __slots__ = (
        "_admitted_gpus",
        "_budget",
        "_usage",
        "admissions",
        "config",
        "jobs_examined",
        "projects",
        "queue_heads",
        "reservations",
        "snapshot",
        "waiting",
    )

    def __init__(self, snapshot: Snapshot) -> None:
        self.config: PolicyConfig = snapshot.config
        self.snapshot = snapshot
        self.projects: dict[int, Project] = snapshot.projects
        self.admissions: list[Admission] = []
        self.waiting: dict[str, WaitReason] = {}
        self.reservations: dict[str, Reservation] = {}
        self.jobs_examined = 0
        self.queue_heads = 0
        self._usage: dict[int, float] = {}
        self._budget: dict[tuple[int, str], float] = {}
        self._admitted_gpus: dict[int, int] = {}

    def fair_share(self, project: Project) -> float:
        """The project's fair-share factor, including this cycle's entry penalties."""
        usage = self._usage.get(project.project_id)
        if usage is None:
            usage = project.decayed_usage_gpu_hours
            if project.usage_as_of is not None:
                usage = decayed(
                    usage,
                    project.usage_as_of,
                    self.config.now,
                    self.config.fair_share_half_life_seconds,
                )
            self._usage[project.project_id] = usage
        return fair_share_factor(usage, project.allocated_gpu_hours)

    def budget_left(self, project: Project, gpu_type: str) -> float:
        """Available GPU-hours of the type minus what this cycle has already held."""
        left = self._budget.get((project.project_id, gpu_type))
        if left is None:
            return project.available_gpu_hours.get(gpu_type, 0.0)
        return left

    def project_reason(self, project: Project, job: PendingJob) -> WaitReason | None:
        """Budget and the project's running-GPU limit, the checks that do not need capacity."""
        if job.hold_gpu_hours > self.budget_left(project, job.gpu_type):
            return WaitReason.BUDGET
        limit = project.max_running_gpus
        if limit is not None:
            running = project.running_gpus + self._admitted_gpus.get(project.project_id, 0)
            if running + job.gpus > limit:
                return WaitReason.PROJECT_LIMIT
        return None

    def admit(self, project: Project, job: PendingJob, placement: Placement, *, hold: bool) -> None:
        """Record an admission; a held job spends budget and pays the fair-share entry penalty."""
        hold_gpu_hours = job.hold_gpu_hours if hold else 0.0
        pid = project.project_id
        if hold:
            self._budget[(pid, job.gpu_type)] = self.budget_left(project, job.gpu_type) - (
                hold_gpu_hours
            )
            # Entry penalty: the project's key worsens at once, so it cannot sweep the cycle.
            self.fair_share(project)
            self._usage[pid] += hold_gpu_hours
        self._admitted_gpus[pid] = self._admitted_gpus.get(pid, 0) + job.gpus
        self.admissions.append(
            Admission(
                job_id=job.job_id,
                project_id=pid,
                gpu_type=job.gpu_type,
                gpus=job.gpus,
                hold_gpu_hours=hold_gpu_hours,
                placement=placement,
                expected_end=self.config.now + job.walltime_seconds,
                booking_id=job.booking_id,
            )
        )

    def wait(self, job: PendingJob, reason: WaitReason) -> None:
        """Record why a queue head waits; the first reason found for a job is kept."""
        self.waiting.setdefault(job.job_id, reason)

    def result(self, duration_seconds: float) -> CycleResult:
        stats = CycleStats(self.jobs_examined, self.queue_heads, duration_seconds)
        return CycleResult(self.admissions, self.waiting, self.reservations, stats)
