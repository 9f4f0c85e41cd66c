"""Finishing many jobs at once (reconcile at scale): one transaction per batch, the same
rules as ``booking.jobs.settlement.job_finish`` for each job (runtime, amounts, history)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from booking.jobs.priority import fair_share_add
from booking.jobs.settlement import (
    booking_paid_note,
    finish_message,
    job_runtime_seconds,
    settle_note,
    settle_request,
)
from booking.jobs.signals import job_ended
from booking.jobs.transitions import require_transition
from booking.ledger.services import ledger_settle_many
from booking.models import ACTIVE_STATES, Job, JobEvent, JobReason
from stargate_portal.bulk_update import rows_update


@dataclass(frozen=True, slots=True)
class Finish:
    """What the cluster reported about one job that ended."""

    job_id: int
    state: str
    started_at: datetime | None
    ended_at: datetime
    exit_code: int | None
    reason: str = ""
    consumed_energy_joules: int | None = None


_FIELDS = (
    "state",
    "reason",
    "estimated_start",
    "started_at",
    "ended_at",
    "runtime_seconds",
    "exit_code",
    "consumed_energy_joules",
)


def jobs_finish_many(finishes: Sequence[Finish], *, now: datetime) -> int:
    """Settle and close these jobs in one transaction; jobs no longer active are skipped.
    Returns how many were finished."""
    if not finishes:
        return 0
    by_id = {finish.job_id: finish for finish in finishes}
    with transaction.atomic():
        jobs = list(
            Job.objects.select_for_update(of=("self",))
            .select_related("gpu_type")
            .filter(pk__in=list(by_id), state__in=ACTIVE_STATES)
            .order_by("pk")
        )
        runtimes = {job.pk: _runtime(job, by_id[job.pk]) for job in jobs}
        # A booked job is never charged (its booking paid): no ledger request for it.
        charged = [job for job in jobs if job.booking_id is None]
        settled = ledger_settle_many(
            [settle_request(job, runtimes[job.pk]) for job in charged], at=now
        )
        usage: dict[int, float] = defaultdict(float)
        events = []
        for job in jobs:
            finish = by_id[job.pk]
            require_transition(job.state, finish.state)
            booked = booking_paid_note(job)
            note = (
                booked
                if booked is not None
                else settle_note(job, runtimes[job.pk], settled[job.pk], usage)
            )
            message = finish_message(
                finish.state, runtimes[job.pk], finish.exit_code, finish.reason
            )
            at = max(finish.ended_at, job.admitted_at) if job.admitted_at else finish.ended_at
            events.append(_event(job, finish, f"{message} {note}".strip(), at))
            job.state, job.reason, job.estimated_start = finish.state, "", None
            job.ended_at, job.exit_code = finish.ended_at, finish.exit_code
            job.consumed_energy_joules = finish.consumed_energy_joules
        rows_update(Job, _FIELDS, [(job.pk, *(getattr(job, f) for f in _FIELDS)) for job in jobs])
        JobEvent.objects.bulk_create(events, batch_size=1000)
        fair_share_add(gpu_hours=dict(usage), now=now)
        # As ``job_finish`` does: the features that account for finished jobs hear of each.
        ended = [job.pk for job in jobs]
        transaction.on_commit(lambda: _ended(ended))
    return len(jobs)


def _ended(job_ids: list[int]) -> None:
    for job_id in job_ids:
        job_ended.send(sender=Job, job_id=job_id)


def _runtime(job: Job, finish: Finish) -> int:
    start = job.started_at or finish.started_at
    job.started_at = start
    job.runtime_seconds = job_runtime_seconds(job, start, finish.ended_at) if start else 0
    return job.runtime_seconds


def _event(job: Job, finish: Finish, message: str, at: datetime) -> JobEvent:
    return JobEvent(
        job_id=job.pk,
        at=at,
        from_state=job.state,
        to_state=finish.state,
        reason=JobReason(finish.reason) if finish.reason else "",
        message=message[:500],
    )
