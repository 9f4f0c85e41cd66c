"""What the admission controller tells Prometheus (see ``stargate_portal.metrics``).

The cycle records its own figures when it ends: its duration and parts, admissions, full
reloads, and, from the snapshot it already holds, the queue and the GPUs per tier and GPU type.
So a scrape never counts pending jobs: at 100,000 of them it costs the same as at ten. Those
gauges describe the snapshot at the start of the last cycle, and are refreshed after every full
reload (new nodes, a new worker) and otherwise at most every
``GAUGES_EVERY_SECONDS`` (counting running jobs walks them once). The time of the last cycle is
read at scrape time from its log, so any web process can tell that admission has stalled.
"""

from __future__ import annotations

import logging
import time
from collections import Counter as Tally
from collections.abc import Iterator, Mapping
from datetime import date
from operator import itemgetter
from typing import TYPE_CHECKING

from django.utils import timezone
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric

from accounts.tiers import PriorityTier
from booking.jobs.priority import ProjectFacts, project_tiers
from booking.jobs.selectors import cluster_cancels_waiting
from booking.models import AdmissionCycle
from booking.scheduler import GpuTypeCapacity

if TYPE_CHECKING:
    from booking.admission.cycle import CycleReport
    from booking.admission.snapshot import Site

logger = logging.getLogger(__name__)

GAUGES_EVERY_SECONDS = 10.0
TIERS_MAX_AGE_SECONDS = 300.0

CYCLE_SECONDS = Histogram(
    "stargate_admission_cycle_duration_seconds",
    "Duration of an admission cycle (its _count is the number of cycles).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CYCLE_PART_SECONDS = Histogram(
    "stargate_admission_cycle_part_duration_seconds",
    "Duration of a part of an admission cycle: snapshot, policy, apply.",
    ["part"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CYCLE_ADMISSIONS = Histogram(
    "stargate_admission_cycle_admissions",
    "Jobs admitted per cycle (its _sum is every admission).",
    buckets=(0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000),
)
FULL_RELOADS = Counter(
    "stargate_admission_cycle_full_reloads", "Cycles that had to load the snapshot in full."
)
LOCK_MISSES = Counter(
    "stargate_admission_cycle_lock_misses",
    "Cycles that did not run because another worker held the cycle lock.",
)
JOBS_PENDING = Gauge(
    "stargate_jobs_pending",
    "Pending jobs by tier and GPU type, as the last admission cycle saw them.",
    ["tier", "gpu_type"],
    multiprocess_mode="mostrecent",
)
JOBS_RUNNING = Gauge(
    "stargate_jobs_running",
    "Admitted and running jobs by tier and GPU type, as the last admission cycle saw them.",
    ["tier", "gpu_type"],
    multiprocess_mode="mostrecent",
)
GPUS = Gauge(
    "stargate_gpus",
    "GPUs per GPU type: in_use (by admitted or running jobs), free, unavailable (down, "
    "drained or booked and idle).",
    ["gpu_type", "state"],
    multiprocess_mode="mostrecent",
)


class _Gauges:
    """When the gauges were last set, and the tiers of projects seen running."""

    recorded_at = float("-inf")
    tiers: dict[int, int] = {}
    tiers_at = float("-inf")


def cycle_observe(*, site: Site, facts: Mapping[int, ProjectFacts], report: CycleReport) -> None:
    """Record one finished cycle (called by the cycle, in its worker process)."""
    CYCLE_SECONDS.observe(report.duration_ms / 1000)
    CYCLE_PART_SECONDS.labels("snapshot").observe(report.snapshot_ms / 1000)
    CYCLE_PART_SECONDS.labels("policy").observe(report.policy_ms / 1000)
    CYCLE_PART_SECONDS.labels("apply").observe(report.apply_ms / 1000)
    CYCLE_ADMISSIONS.observe(len(report.admitted))
    if report.full_reload:
        FULL_RELOADS.inc()
    now = time.monotonic()
    # A full reload means new nodes (or a new worker): record at once, whatever the interval.
    if report.full_reload or now - _Gauges.recorded_at >= GAUGES_EVERY_SECONDS:
        _Gauges.recorded_at = now
        _gauges_record(site, facts)


def cycle_lock_missed() -> None:
    LOCK_MISSES.inc()


def _gauges_record(site: Site, facts: Mapping[int, ProjectFacts]) -> None:
    gpu_types = set(site.capacity) | set(site.pending.gpu_types())
    pending: dict[str, Tally[int]] = {gpu_type: Tally() for gpu_type in gpu_types}
    for gpu_type in site.pending.gpu_types():
        pending[gpu_type].update(
            {
                project_id: len(queue)
                for project_id, queue in site.pending.by_project(gpu_type).items()
            }
        )
    for queue in site.pending.booked().values():
        for job in queue:
            pending.setdefault(job.gpu_type, Tally())[job.project_id] += 1
    running: dict[str, Tally[int]] = {}
    for gpu_type, capacity in site.capacity.items():
        running[gpu_type] = Tally(_running_projects(capacity))
        in_use = sum(capacity.running_gpus_by_project.values())
        free = capacity.free_gpus
        GPUS.labels(gpu_type, "in_use").set(in_use)
        GPUS.labels(gpu_type, "free").set(free)
        GPUS.labels(gpu_type, "unavailable").set(max(capacity.total_gpus - in_use - free, 0))
    tiers = _tiers_of(set().union(*pending.values(), *running.values()), facts)
    _set_by_tier(JOBS_PENDING, pending, tiers)
    _set_by_tier(JOBS_RUNNING, running, tiers)


def _running_projects(capacity: GpuTypeCapacity) -> Iterator[int]:
    """The project of each running job (one per job: 60,000 at full size, counted in C)."""
    jobs = map(capacity.running_job, map(itemgetter(1), capacity.releases()))
    return (job.project_id for job in jobs if job is not None)


def _set_by_tier(
    gauge: Gauge, by_type: Mapping[str, Mapping[int, int]], tiers: Mapping[int, int]
) -> None:
    """Every tier and GPU type gets a value, 0 included, so a series never goes stale."""
    for gpu_type, by_project in by_type.items():
        by_tier: Tally[int] = Tally()
        for project_id, count in by_project.items():
            by_tier[tiers.get(project_id, PriorityTier.INTERNATIONAL)] += count
        for tier in PriorityTier:
            gauge.labels(str(int(tier)), gpu_type).set(by_tier.get(int(tier), 0))


def _tiers_of(project_ids: set[int], facts: Mapping[int, ProjectFacts]) -> dict[int, int]:
    """Tiers from this cycle's facts, else from a cache renewed every few minutes (a project
    with nothing pending is not in the facts)."""
    now = time.monotonic()
    if now - _Gauges.tiers_at > TIERS_MAX_AGE_SECONDS:
        _Gauges.tiers, _Gauges.tiers_at = {}, now
    known = {pk: fact.tier for pk, fact in facts.items()}
    missing = project_ids - known.keys() - _Gauges.tiers.keys()
    if missing:
        _Gauges.tiers.update(project_tiers(missing, today=date.today()))  # noqa: DTZ011
    return _Gauges.tiers | known


class LastCycle:
    """``stargate_admission_last_cycle_timestamp_seconds``: when the newest logged cycle
    started (one indexed read), whichever worker ran it."""

    def collect(self) -> Iterator[Metric]:
        try:
            started_at = AdmissionCycle.objects.order_by("-started_at").values_list(
                "started_at", flat=True
            )[:1]
            latest = next(iter(started_at), None)
        except Exception as exc:  # the database is down: leave the series out
            logger.warning("metrics: last admission cycle unavailable: %r", exc)
            return
        if latest is None:
            return
        gauge = GaugeMetricFamily(
            "stargate_admission_last_cycle_timestamp_seconds",
            "Start of the newest admission cycle on record (Unix time).",
        )
        gauge.add_metric([], latest.timestamp())
        yield gauge


class ClusterCancelsWaiting:
    """``stargate_cluster_cancels_waiting`` and ``…_oldest_age_seconds``: jobs stopped in the
    books whose cancel the cluster has not taken yet (one read of a table that is empty while
    the cluster answers). A growing age means the reconcile cannot reach the cluster: those
    jobs still hold GPUs there."""

    def collect(self) -> Iterator[Metric]:
        try:
            waiting = cluster_cancels_waiting()
        except Exception as exc:  # the database is down: leave the series out
            logger.warning("metrics: waiting cluster cancels unavailable: %r", exc)
            return
        count = GaugeMetricFamily(
            "stargate_cluster_cancels_waiting",
            "Jobs stopped in the platform whose cancel the cluster has not taken yet.",
        )
        count.add_metric([], waiting.count)
        yield count
        age = GaugeMetricFamily(
            "stargate_cluster_cancels_oldest_age_seconds",
            "Seconds the oldest of those cancels has waited (0: none waits).",
        )
        oldest = waiting.oldest
        age.add_metric([], (timezone.now() - oldest).total_seconds() if oldest else 0.0)
        yield age
