"""Following the cluster: start and finish jobs as it reports them, settle their hours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from booking.admission.dispatch import jobs_dispatch
from booking.cluster.base import BackendJob, BackendState, ClusterBackend
from booking.cluster.registry import cluster_backend
from booking.jobs.settlement import job_finish, job_start
from booking.models import ACTIVE_STATES, Job, JobReason, JobState
from booking.models.jobs import submission_key

CHUNK = 1_000
_FINAL = {
    BackendState.COMPLETED: JobState.COMPLETED,
    BackendState.FAILED: JobState.FAILED,
    BackendState.CANCELLED: JobState.CANCELLED,
    BackendState.TIMEOUT: JobState.TIMEOUT,
    BackendState.NODE_FAIL: JobState.FAILED,
}


@dataclass(frozen=True)
class ReconcileReport:
    dispatched: int
    started: int
    finished: int

    def as_dict(self) -> dict[str, int]:
        return {"dispatched": self.dispatched, "started": self.started, "finished": self.finished}


def jobs_reconcile(*, backend: ClusterBackend | None = None) -> ReconcileReport:
    """Send what was admitted but never sent, then bring active jobs in line with the
    cluster. Each job's transition is its own transaction, safe to repeat."""
    backend = backend or cluster_backend()
    dispatched = jobs_dispatch(backend=backend)
    started = finished = 0
    active = (
        Job.objects.filter(state__in=ACTIVE_STATES)
        .exclude(backend_job_id="")
        .order_by("pk")
        .values_list("pk", "uuid", "attempt", "state")
    )
    rows = list(active)
    for start in range(0, len(rows), CHUNK):
        chunk = {
            submission_key(uuid, attempt): (pk, state)
            for pk, uuid, attempt, state in rows[start : start + CHUNK]
        }
        reported = backend.poll(chunk)
        now = backend.now()
        for key, (pk, state) in chunk.items():
            found = reported.get(key)
            s, f = _follow(pk, state, found, now)
            started, finished = started + s, finished + f
        _note_cluster_waits(chunk, reported)
    return ReconcileReport(dispatched, started, finished)


def _note_cluster_waits(chunk: dict[str, tuple[int, str]], reported: dict[str, BackendJob]) -> None:
    """An admitted job the cluster keeps queued shows why (its own queue, a limit, a
    booking); the reason goes when the job starts."""
    waits: dict[str, list[int]] = {}
    for key, (pk, state) in chunk.items():
        found = reported.get(key)
        if state == JobState.ADMITTED and found is not None and found.state == BackendState.QUEUED:
            waits.setdefault(found.reason, []).append(pk)
    for reason, pks in waits.items():
        if reason in JobReason.values or reason == "":
            Job.objects.filter(pk__in=pks, state=JobState.ADMITTED).exclude(reason=reason).update(
                reason=reason
            )


def _follow(pk: int, state: str, found: BackendJob | None, now: datetime) -> tuple[int, int]:
    if found is None:
        # Submitted, yet the cluster does not know it: it is lost (never silently re-run).
        done = job_finish(
            job_id=pk,
            state=JobState.FAILED,
            started_at=None,
            ended_at=now,
            exit_code=None,
            reason=JobReason.LOST,
        )
        return 0, int(done)
    started = 0
    if state == JobState.ADMITTED and found.state != BackendState.QUEUED and found.started_at:
        started = int(
            job_start(job_id=pk, started_at=found.started_at, backend_job_id=found.backend_job_id)
        )
    if not found.finished:
        return started, 0
    reason = found.reason if found.reason in JobReason.values else ""
    if found.state == BackendState.NODE_FAIL:
        reason = JobReason.NODE_FAILURE
    done = job_finish(
        job_id=pk,
        state=_FINAL[found.state],
        started_at=found.started_at,
        ended_at=found.ended_at or now,
        exit_code=found.exit_code,
        reason=reason,
        consumed_energy_joules=found.consumed_energy_joules,
    )
    return started, int(done)
