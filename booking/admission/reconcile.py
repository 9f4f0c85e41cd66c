"""Following the cluster: start and finish jobs as it reports them, settle their hours.

Each run asks the backend only for what changed since the last one
(``ClusterBackend.changes_since``; a backend that cannot tell answers in full), and settles the
jobs that ended in batches, one transaction per batch (``booking.jobs.finish_batch``). The
safety net is a full check of every active job once in ``JOBS_RECONCILE_FULL_SECONDS``, a slice
per run so no run costs O(active jobs): it finds the jobs the cluster lost and any change a
cursor missed.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from booking.admission.dispatch import jobs_dispatch
from booking.cluster.base import BackendJob, BackendState, Changes, ClusterBackend
from booking.cluster.registry import cluster_backend
from booking.jobs.finish_batch import Finish, jobs_finish_many
from booking.jobs.services import jobs_cluster_cancels_send
from booking.jobs.settlement import job_start
from booking.models import ACTIVE_STATES, Job, JobReason, JobState, ReconcileCursor
from booking.models.jobs import submission_key

_T = TypeVar("_T")
CHUNK = 1_000
FINISH_BATCH = 500
SLICE_MIN = 100
_FINAL = {
    BackendState.COMPLETED: JobState.COMPLETED,
    BackendState.FAILED: JobState.FAILED,
    BackendState.CANCELLED: JobState.CANCELLED,
    BackendState.TIMEOUT: JobState.TIMEOUT,
    BackendState.NODE_FAIL: JobState.FAILED,
}

Active = dict[str, tuple[int, str]]
"""Submission key → (job id, state) of the active jobs a run looks at."""


@dataclass(frozen=True)
class ReconcileReport:
    dispatched: int
    started: int
    finished: int
    full: bool = False
    changed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "dispatched": self.dispatched,
            "started": self.started,
            "finished": self.finished,
            "full": int(self.full),
            "changed": self.changed,
        }


def jobs_reconcile(*, backend: ClusterBackend | None = None, full: bool = False) -> ReconcileReport:
    """Send the cancels the cluster has not confirmed and what was admitted but never sent,
    then bring the jobs the cluster reports as changed in line with it, plus the safety net's
    slice of the active jobs (every active job when ``full``, on the first run, or when the
    backend cannot tell what changed). Safe to repeat: every transition checks the job's
    current state."""
    backend = backend or cluster_backend()
    jobs_cluster_cancels_send(backend=backend)
    dispatched = jobs_dispatch(backend=backend)
    mark = ReconcileCursor.objects.filter(backend=backend.name).first()
    loaded: list[Active] = []

    def active_keys() -> Collection[str]:
        loaded.append(_active_jobs())
        return loaded[-1].keys()

    if full or mark is None:
        changes = backend.changes_all(active_keys)
    else:
        changes = backend.changes_since(mark.cursor, active_keys)
    checked_up_to = 0
    if changes.complete:
        active = loaded[-1] if loaded else _active_jobs()
    else:
        active = _active_of(changes.jobs.keys())
        checked, checked_up_to = _safety_slice(mark.checked_up_to if mark else 0)
        if checked:
            changes = _with_slice(backend, changes, checked)
            active |= checked
    started, finished = _follow(active, changes, backend.now())
    wrapped = changes.complete or checked_up_to == 0
    ReconcileCursor.objects.update_or_create(
        backend=backend.name,
        defaults={
            "cursor": changes.cursor,
            "checked_up_to": checked_up_to,
            "full_at": timezone.now() if wrapped else (mark.full_at if mark else None),
        },
    )
    return ReconcileReport(dispatched, started, finished, changes.complete, len(changes.jobs))


def _safety_slice(after_pk: int) -> tuple[Active, int]:
    """The next slice of active jobs for the full check, and where the next one starts (0:
    this slice ends a pass). Sized so every active job is checked once in
    ``JOBS_RECONCILE_FULL_SECONDS``: the cost of a run stays bounded whatever the job count."""
    runs = max(settings.JOBS_RECONCILE_FULL_SECONDS / settings.JOBS_RECONCILE_SECONDS, 1.0)
    active = Job.objects.filter(state__in=ACTIVE_STATES).exclude(backend_job_id="")
    size = max(math.ceil(active.count() / runs), SLICE_MIN)
    rows = list(
        active.filter(pk__gt=after_pk)
        .order_by("pk")
        .values_list("pk", "uuid", "attempt", "state")[:size]
    )
    checked = {submission_key(uuid, attempt): (pk, state) for pk, uuid, attempt, state in rows}
    return checked, rows[-1][0] if len(rows) == size else 0


def _with_slice(backend: ClusterBackend, changes: Changes, checked: Active) -> Changes:
    """The changes plus the cluster's full answer for the checked slice; a checked job the
    cluster does not know is marked lost (``LOST`` below)."""
    jobs = dict(changes.jobs)
    answered = backend.poll(list(checked))
    jobs.update(answered)
    lost = {key for key in checked if key not in jobs}
    return Changes(jobs, changes.cursor, complete=False, lost=frozenset(lost))


def _active_jobs() -> Active:
    """Every active job the cluster was sent (a full answer covers them all)."""
    rows = (
        Job.objects.filter(state__in=ACTIVE_STATES)
        .exclude(backend_job_id="")
        .values_list("pk", "uuid", "attempt", "state")
    )
    return {submission_key(uuid, attempt): (pk, state) for pk, uuid, attempt, state in rows}


def _active_of(keys: Collection[str]) -> Active:
    """The active jobs among changed keys (an admitted job may not know its cluster id yet)."""
    uuids = {_uuid_of(key) for key in keys} - {None}
    active: Active = {}
    for chunk in _chunks(sorted(uuids, key=str), CHUNK):
        rows = Job.objects.filter(Q(uuid__in=chunk), state__in=ACTIVE_STATES).values_list(
            "pk", "uuid", "attempt", "state"
        )
        for pk, job_uuid, attempt, state in rows:
            key = submission_key(job_uuid, attempt)
            if key in keys:
                active[key] = (pk, state)
    return active


def _uuid_of(key: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(key.split(".", 1)[0])
    except ValueError:
        return None


def _follow(active: Active, changes: Changes, now: datetime) -> tuple[int, int]:
    """Start what started, finish (in batches) what ended; with a full answer a job the
    cluster does not know is lost (never silently re-run)."""
    started = 0
    finishes: list[Finish] = []
    for key, (pk, state) in active.items():
        found = changes.jobs.get(key)
        if found is None:
            if changes.complete or key in changes.lost:
                lost = Finish(pk, JobState.FAILED, None, now, None, reason=JobReason.LOST)
                finishes.append(lost)
            continue
        if state == JobState.ADMITTED and found.state != BackendState.QUEUED and found.started_at:
            started += int(
                job_start(
                    job_id=pk, started_at=found.started_at, backend_job_id=found.backend_job_id
                )
            )
        if found.finished:
            finishes.append(_finish(pk, found, now))
    finished = sum(jobs_finish_many(batch, now=now) for batch in _chunks(finishes, FINISH_BATCH))
    _note_cluster_waits(active, changes.jobs)
    return started, finished


def _finish(pk: int, found: BackendJob, now: datetime) -> Finish:
    reason = found.reason if found.reason in JobReason.values else ""
    if found.state == BackendState.NODE_FAIL:
        reason = JobReason.NODE_FAILURE
    return Finish(
        job_id=pk,
        state=_FINAL[found.state],
        started_at=found.started_at,
        ended_at=found.ended_at or now,
        exit_code=found.exit_code,
        reason=reason,
        consumed_energy_joules=found.consumed_energy_joules,
    )


def _note_cluster_waits(active: Active, reported: dict[str, BackendJob]) -> None:
    """An admitted job the cluster keeps queued shows why (its own queue, a limit, a
    booking); the reason goes when the job starts."""
    waits: dict[str, list[int]] = {}
    for key, (pk, state) in active.items():
        found = reported.get(key)
        if state == JobState.ADMITTED and found is not None and found.state == BackendState.QUEUED:
            waits.setdefault(found.reason, []).append(pk)
    for reason, pks in waits.items():
        if reason in JobReason.values or reason == "":
            Job.objects.filter(pk__in=pks, state=JobState.ADMITTED).exclude(reason=reason).update(
                reason=reason
            )


def _chunks(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
