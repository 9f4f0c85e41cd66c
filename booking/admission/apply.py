"""Writing one cycle's decisions, inside the cycle's transaction.

Admitted jobs are taken with ``select_for_update(skip_locked=True)`` among those still
pending: a job being cancelled (locked) or already cancelled is simply skipped. Each admitted
job holds gpus x walltime on the ledger; a refused hold leaves it pending with the reason.
Job state changes reach this process's snapshot through the event feed at the next cycle;
only the reasons and estimates written here are noted in the snapshot directly.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.utils.translation import gettext as _

from booking.admission.snapshot import Site, policy_job_id
from booking.jobs.priority import ProjectFacts, fair_share_add
from booking.jobs.transitions import job_events_record_many, jobs_move, require_transition
from booking.ledger.budget import BudgetVerdict, budget_verdict
from booking.ledger.selectors import Balance
from booking.ledger.services import HoldRequest, ledger_hold_many
from booking.models import Job, JobReason, JobState
from booking.models.jobs import ledger_key
from booking.scheduler import Admission, CycleResult, Reservation
from booking.scheduler.hours import hold_gpu_hours
from stargate_portal.bulk_update import rows_update

CHUNK = 2_000
REFUSAL_REASONS = {
    "insufficient_gpu_hours": JobReason.BUDGET,
    "project_suspended": JobReason.PROJECT_SUSPENDED,
    "allocation_inactive": JobReason.ALLOCATION_INACTIVE,
    "no_allocation": JobReason.NO_ALLOCATION,
}
"""Why a job waits when the ledger refused its hold (any other refusal: budget)."""


@dataclass(frozen=True)
class Applied:
    admitted: list[int]
    skipped: int
    held: int


@dataclass(frozen=True, slots=True)
class _Locked:
    pk: int
    project_id: int
    gpu_type_id: int
    hold_gpu_hours: Decimal
    key: str


def apply_decisions(
    *, site: Site, facts: Mapping[int, ProjectFacts], result: CycleResult, now: datetime
) -> Applied:
    """Admit what can still be admitted, hold its budget, and note why the others wait."""
    decided = {int(admission.job_id): admission for admission in result.admissions}
    locked = _lock_pending(decided)
    refused = ledger_hold_many(
        [
            HoldRequest(j.pk, j.project_id, j.gpu_type_id, j.hold_gpu_hours, j.key, j.key)
            for j in locked
            if decided[j.pk].hold_gpu_hours > 0
        ],
        at=now,
    )
    admitted = [j for j in locked if j.pk not in refused]
    _write_admissions([(j, decided[j.pk]) for j in admitted], now)
    usage: dict[int, float] = defaultdict(float)
    for job in admitted:
        # The entry penalty: an admission counts as usage at once (corrected at the end). A
        # job in a capacity booking holds nothing: the booking paid for its nodes.
        if decided[job.pk].hold_gpu_hours > 0:
            usage[job.project_id] += float(job.hold_gpu_hours)
    fair_share_add(gpu_hours=usage, now=now)
    reasons = {int(job_id): str(reason) for job_id, reason in result.waiting.items()}
    for pk, code in refused.items():
        reasons[pk] = REFUSAL_REASONS.get(code, JobReason.BUDGET)
    held = _hold_exhausted(site, facts, reasons, now)
    _write_reasons(site, {pk: r for pk, r in reasons.items() if pk not in held})
    _write_estimates(site, result.reservations.values())
    return Applied([j.pk for j in admitted], skipped=len(decided) - len(admitted), held=len(held))


def _lock_pending(decided: Mapping[int, Admission]) -> list[_Locked]:
    rows = (
        Job.objects.select_for_update(skip_locked=True)
        .filter(pk__in=list(decided), state=JobState.PENDING)
        .order_by("pk")
        .values_list(
            "pk", "project_id", "gpu_type_id", "gpus", "walltime_minutes", "uuid", "attempt"
        )
    )
    locked = [
        _Locked(
            pk,
            project,
            gpu_type,
            hold_gpu_hours(gpus, walltime),
            ledger_key(uuid, attempt, "hold"),
        )
        for pk, project, gpu_type, gpus, walltime, uuid, attempt in rows
    ]
    # Admission order: the policy's priority order decides whose hold is tried first.
    order = {pk: index for index, pk in enumerate(decided)}
    return sorted(locked, key=lambda job: order[job.pk])


def _write_admissions(admitted: Sequence[tuple[_Locked, Admission]], now: datetime) -> None:
    if not admitted:
        return
    require_transition(JobState.PENDING, JobState.ADMITTED)
    rows_update(
        Job,
        ["placement", "expected_end"],
        [
            (
                job.pk,
                [list(pair) for pair in admission.placement],
                datetime.fromtimestamp(admission.expected_end, tz=UTC),
            )
            for job, admission in admitted
        ],
        same={
            "state": JobState.ADMITTED,
            "admitted_at": now,
            "reason": "",
            "estimated_start": None,
        },
    )
    job_events_record_many(
        {job.pk: _admission_message(job, admission) for job, admission in admitted},
        from_state=JobState.PENDING,
        to_state=JobState.ADMITTED,
        at=now,
    )


def _admission_message(job: _Locked, admission: Admission) -> str:
    nodes = len(admission.placement)
    if admission.booking_id is not None:
        return _(
            "Admitted in capacity booking %(b)s: paid by the booking; placed on %(n)s of its "
            "node(s)."
        ) % {"b": admission.booking_id, "n": nodes}
    return _("Admitted: %(h)s GPU-hours held; placed on %(n)s node(s).") % {
        "h": job.hold_gpu_hours,
        "n": nodes,
    }


def _hold_exhausted(
    site: Site, facts: Mapping[int, ProjectFacts], reasons: Mapping[int, str], now: datetime
) -> set[int]:
    """Hold queue heads waiting for a budget they can never get: they would otherwise block
    their project's queue for good."""
    exhausted = set()
    for pk, reason in reasons.items():
        job = site.pending.get(policy_job_id(pk)) if reason == JobReason.BUDGET else None
        fact = facts.get(job.project_id) if job is not None else None
        if job is None or fact is None:
            continue
        balance = fact.balances.get(job.gpu_type, Balance())
        hold = hold_gpu_hours(job.gpus, job.walltime_minutes)
        if budget_verdict(hold_gpu_hours=hold, balance=balance) == BudgetVerdict.REFUSED:
            exhausted.add(pk)
    message = _("Held: the job needs more GPU-hours than the allocation has left.")
    moved = jobs_move(
        dict.fromkeys(exhausted, message),
        from_state=JobState.PENDING,
        to_state=JobState.HELD,
        at=now,
        reason=JobReason.BUDGET_EXHAUSTED,
    )
    return set(moved)


def _write_reasons(site: Site, reasons: Mapping[int, str]) -> None:
    """Write the reasons that changed (jobs behind a queue head keep theirs: priority)."""
    changed: dict[str, list[int]] = defaultdict(list)
    for pk, reason in reasons.items():
        stored = site.reasons.get(pk)
        if stored is not None and stored != reason:
            changed[reason].append(pk)
    for reason, pks in changed.items():
        for chunk in _chunks(pks):
            Job.objects.filter(pk__in=chunk, state=JobState.PENDING).update(
                reason=JobReason(reason)
            )
        site.reasons.update(dict.fromkeys(pks, reason))


def _write_estimates(site: Site, reservations: Iterable[Reservation]) -> None:
    """The job each GPU type reserves for starts at its shadow time; others are estimated
    when read (``booking.jobs.queue.estimated_start``)."""
    new = {
        int(r.job_id): datetime.fromtimestamp(round(r.shadow_time), tz=UTC)
        for r in reservations
        if math.isfinite(r.shadow_time)
    }
    stale = [pk for pk in site.estimates if pk not in new]
    for chunk in _chunks(stale):
        Job.objects.filter(pk__in=chunk, state=JobState.PENDING).update(estimated_start=None)
    for pk in stale:
        del site.estimates[pk]
    for pk, when in new.items():
        if site.estimates.get(pk) != when:
            Job.objects.filter(pk=pk, state=JobState.PENDING).update(estimated_start=when)
            site.estimates[pk] = when


def _chunks(items: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]
