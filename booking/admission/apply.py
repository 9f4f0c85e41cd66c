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

from django.conf import settings
from django.utils.translation import gettext as _

from booking.admission.rows import rows_update
from booking.admission.snapshot import Site, policy_job_id
from booking.jobs.selectors import ProjectFacts
from booking.ledger.holds import HoldRequest, holds_place
from booking.models import FairShareUsage, Job, JobEvent, JobState
from booking.models.jobs import HOURS, ledger_key
from booking.scheduler import Admission, CycleResult, Reservation, decayed

CHUNK = 2_000
REFUSAL_REASONS = {
    "insufficient_gpu_hours": "budget",
    "project_suspended": "project_suspended",
    "allocation_inactive": "allocation_inactive",
    "no_allocation": "no_allocation",
}


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
    refused = holds_place(
        [
            HoldRequest(j.pk, j.project_id, j.gpu_type_id, j.hold_gpu_hours, j.key, j.key)
            for j in locked
            if decided[j.pk].hold_gpu_hours > 0
        ]
    )
    admitted = [j for j in locked if j.pk not in refused]
    _write_admissions([(j, decided[j.pk]) for j in admitted], now)
    _fair_share_add(admitted, now)
    reasons = {int(job_id): str(reason) for job_id, reason in result.waiting.items()}
    reasons.update({pk: REFUSAL_REASONS.get(code, "budget") for pk, code in refused.items()})
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
            (Decimal(gpus * walltime) / 60).quantize(HOURS),
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
    JobEvent.objects.bulk_create(
        [
            JobEvent(
                job_id=job.pk,
                at=now,
                from_state=JobState.PENDING,
                to_state=JobState.ADMITTED,
                message=_("Admitted: %(h)s GPU-hours held; placed on %(n)s node(s).")
                % {"h": job.hold_gpu_hours, "n": len(admission.placement)},
            )
            for job, admission in admitted
        ],
        batch_size=1000,
    )


def _fair_share_add(admitted: Sequence[_Locked], now: datetime) -> None:
    """The entry penalty: an admission counts as usage at once (corrected at completion)."""
    added: dict[int, float] = defaultdict(float)
    for job in admitted:
        added[job.project_id] += float(job.hold_gpu_hours)
    if not added:
        return
    FairShareUsage.objects.bulk_create(
        [FairShareUsage(project_id=pk, as_of=now) for pk in added], ignore_conflicts=True
    )
    half_life = settings.FAIR_SHARE_HALF_LIFE_DAYS * 86_400
    rows = list(
        FairShareUsage.objects.select_for_update().filter(project_id__in=list(added)).order_by("pk")
    )
    for row in rows:
        current = decayed(
            row.decayed_usage_gpu_hours, row.as_of.timestamp(), now.timestamp(), half_life
        )
        row.decayed_usage_gpu_hours = current + added[row.project_id]
        row.as_of = max(row.as_of, now)
    rows_update(
        FairShareUsage,
        ["decayed_usage_gpu_hours", "as_of"],
        [(row.pk, row.decayed_usage_gpu_hours, row.as_of) for row in rows],
    )


def _hold_exhausted(
    site: Site, facts: Mapping[int, ProjectFacts], reasons: Mapping[int, str], now: datetime
) -> set[int]:
    """Hold queue heads waiting for a budget they can never get (more than is not yet
    charged): they would otherwise block their project's queue for good."""
    exhausted = set()
    for pk, reason in reasons.items():
        job = site.pending.get(policy_job_id(pk)) if reason == "budget" else None
        fact = facts.get(job.project_id) if job is not None else None
        if job is None or fact is None:
            continue
        balance = fact.balances.get(job.gpu_type)
        unspent = balance.granted - balance.charged if balance is not None else Decimal(0)
        if (Decimal(job.gpus * job.walltime_minutes) / 60).quantize(HOURS) > unspent:
            exhausted.add(pk)
    if not exhausted:
        return exhausted
    still_pending = Job.objects.filter(pk__in=exhausted, state=JobState.PENDING)
    pks = list(still_pending.values_list("pk", flat=True))
    Job.objects.filter(pk__in=pks).update(state=JobState.HELD, reason="budget_exhausted")
    message = _("Held: the job needs more GPU-hours than the allocation has left.")
    JobEvent.objects.bulk_create(
        [
            JobEvent(
                job_id=pk,
                at=now,
                from_state=JobState.PENDING,
                to_state=JobState.HELD,
                reason="budget_exhausted",
                message=message,
            )
            for pk in pks
        ]
    )
    return set(pks)


def _write_reasons(site: Site, reasons: Mapping[int, str]) -> None:
    """Write the reasons that changed (jobs behind a queue head keep theirs: priority)."""
    changed: dict[str, list[int]] = defaultdict(list)
    for pk, reason in reasons.items():
        stored = site.reasons.get(pk)
        if stored is not None and stored != reason:
            changed[reason].append(pk)
    for reason, pks in changed.items():
        for chunk in _chunks(pks):
            Job.objects.filter(pk__in=chunk, state=JobState.PENDING).update(reason=reason)
        site.reasons.update(dict.fromkeys(pks, reason))


def _write_estimates(site: Site, reservations: Iterable[Reservation]) -> None:
    """The job each GPU type reserves for starts at its shadow time; others are estimated
    when read (``booking.jobs.selectors.estimated_start``)."""
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
