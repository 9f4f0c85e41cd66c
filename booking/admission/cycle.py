"""One admission cycle: lock, refresh the snapshot, run the policy, apply, log, dispatch."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from booking.admission.apply import apply_decisions
from booking.admission.bookings import site_bookings
from booking.admission.dispatch import jobs_dispatch
from booking.admission.lock import cycle_lock
from booking.admission.metrics import cycle_lock_missed, cycle_observe
from booking.admission.reservations import reservations_record
from booking.admission.snapshot import SnapshotCache
from booking.admission.standing import QueuePublication, queue_publish
from booking.cluster.base import ClusterBackend
from booking.cluster.registry import cluster_backend
from booking.jobs.priority import ProjectFacts, fair_share_half_life_seconds
from booking.models import AdmissionCycle, Job
from booking.scheduler import PolicyConfig, Project, admission_cycle

logger = logging.getLogger(__name__)

snapshot_cache = SnapshotCache()
"""This worker process's snapshot; only touched while holding the cycle lock."""


@dataclass(frozen=True)
class CycleReport:
    admitted: list[int]
    skipped: int
    held: int
    pending_jobs: int
    full_reload: bool
    snapshot_ms: float
    policy_ms: float
    apply_ms: float
    duration_ms: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"admitted": len(self.admitted)}


def admission_run(*, backend: ClusterBackend | None = None) -> CycleReport | None:
    """Run one cycle unless another worker is running one (then None). Admitted jobs are
    sent to the cluster after the commit; the reconcile task retries what that misses."""
    backend = backend or cluster_backend()
    try:
        with cycle_lock() as acquired:
            if not acquired:
                cycle_lock_missed()
                return None
            report, publication = _cycle(backend)
            admitted = report.admitted
            if admitted:
                transaction.on_commit(lambda: _dispatch(admitted, backend))
    except BaseException:
        # A rolled-back cycle may have noted reasons in the snapshot that were not written.
        snapshot_cache.invalidate()
        raise
    # After the commit, outside the cycle lock: the queue as this cycle left it, for requests.
    queue_publish(publication)
    return report


def _cycle(backend: ClusterBackend) -> tuple[CycleReport, QueuePublication]:
    started = time.perf_counter()
    now = backend.now()
    # Taken before the snapshot: jobs submitted later are not in the record. Wall time, which
    # a live cluster's clock is; a frozen simulator clock (replays) makes "submitted since the
    # record" approximate, and a submit at the very instant of a frozen cycle would not count.
    as_of = timezone.now()
    last_job_id = Job.objects.aggregate(last=Max("pk"))["last"] or 0
    site, full = snapshot_cache.refresh(backend.capacity())
    facts = site.book.facts(site.project_ids(), today=now.date())
    running = site.running_gpus()
    idle = site.book.tiers(running.keys() - facts.keys(), today=now.date())
    bookings = site_bookings(site, now=now)
    snapshot = site.snapshot(_config(now), _projects(running, facts), idle, bookings)
    loaded = time.perf_counter()
    result = admission_cycle(snapshot)
    decided = time.perf_counter()
    applied = apply_decisions(site=site, facts=facts, result=result, now=now)
    logged = AdmissionCycle.objects.create(
        started_at=now,
        duration_ms=(time.perf_counter() - started) * 1000,
        snapshot_ms=(loaded - started) * 1000,
        policy_ms=(decided - loaded) * 1000,
        apply_ms=(time.perf_counter() - decided) * 1000,
        full_reload=full,
        pending_jobs=len(site.pending),
        queue_heads=result.stats.queue_heads,
        jobs_examined=result.stats.jobs_examined,
        admissions=len(applied.admitted),
        skipped=applied.skipped,
    )
    reservations_record(cycle=logged, site=site, facts=facts, result=result)
    ended = time.perf_counter()
    report = CycleReport(
        admitted=applied.admitted,
        skipped=applied.skipped,
        held=applied.held,
        pending_jobs=len(site.pending),
        full_reload=full,
        snapshot_ms=(loaded - started) * 1000,
        policy_ms=(decided - loaded) * 1000,
        apply_ms=(ended - decided) * 1000,
        duration_ms=(ended - started) * 1000,
    )
    transaction.on_commit(lambda: cycle_observe(site=site, facts=facts, report=report))
    publication = QueuePublication(
        site=site, snapshot=snapshot, result=result, as_of=as_of, last_job_id=last_job_id
    )
    return report, publication


def _config(now: datetime) -> PolicyConfig:
    return PolicyConfig(
        now=now.timestamp(),
        tier_caps={int(tier): float(cap) for tier, cap in settings.ADMISSION_TIER_CAPS.items()},
        backfill_max_job_test=settings.ADMISSION_BACKFILL_MAX_JOB_TEST,
        fair_share_half_life_seconds=fair_share_half_life_seconds(),
    )


def _projects(running: dict[int, int], facts: dict[int, ProjectFacts]) -> list[Project]:
    return [
        Project(
            project_id=fact.project_id,
            tier=fact.standing.tier,
            available_gpu_hours=fact.available_gpu_hours(),
            decayed_usage_gpu_hours=fact.decayed_usage_gpu_hours,
            allocated_gpu_hours=fact.allocated_gpu_hours,
            max_running_gpus=fact.standing.max_running_gpus,
            suspended=fact.standing.suspended,
            running_gpus=running.get(fact.project_id, 0),
            usage_as_of=fact.usage_as_of,
        )
        for fact in facts.values()
    ]


def _dispatch(job_ids: Sequence[int], backend: ClusterBackend) -> None:
    try:
        jobs_dispatch(job_ids=job_ids, backend=backend)
    except Exception:
        logger.exception("dispatch after the admission cycle failed; reconcile will retry")
