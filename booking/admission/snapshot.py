"""The admission snapshot, kept between cycles in the worker process and updated from events.

A full load reads every pending and active job once. After that a cycle reads only the job
events written since the last one (the ``JobEvent`` table is the change feed) and re-reads
the jobs they name, applying each job's *current* row: applying a row twice changes nothing,
so events may arrive late or twice.

Events that commit late are caught by the feed's gap tracking (``booking.admission.feed``);
the whole snapshot is reloaded after ``settings.ADMISSION_SNAPSHOT_MAX_AGE_SECONDS`` as a
safety net, when the feed is too far behind, when the event ids went backwards (a restored
database), or when the nodes changed. Projects are kept in a ``ProjectBook`` alongside.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import F, FloatField, QuerySet
from django.db.models.functions import Cast, Extract

from booking.admission.feed import FeedCursor
from booking.admission.projects import ProjectBook
from booking.cluster.base import GpuTypeNodes
from booking.models import ACTIVE_STATES, GpuType, Job, JobEvent, JobState
from booking.scheduler import (
    Booking,
    GpuTypeCapacity,
    PendingJob,
    PendingQueues,
    PolicyConfig,
    Project,
    RunningJob,
    Snapshot,
)

logger = logging.getLogger(__name__)

FEED_MAX_BEHIND = 50_000
"""Beyond this many new events a full load is cheaper than following the feed."""
CHUNK = 2_000

Row = tuple[Any, ...]


def job_rows(jobs: QuerySet[Job]) -> QuerySet[Any]:
    """Jobs as ``Site.apply`` reads them. Times are epoch seconds: read as floats on
    PostgreSQL, where parsing 160,000 datetimes would dominate a full load."""
    return jobs.annotate(
        submit_epoch=_epoch("submitted_at"), end_epoch=_epoch("expected_end")
    ).values_list(
        "pk",
        "state",
        "project_id",
        "gpu_type_id",
        "gpus",
        "walltime_minutes",
        "submit_epoch",
        "booking_id",
        "reason",
        "estimated_start",
        "end_epoch",
        "placement",
        "strict_order",
    )


def _epoch(name: str) -> Any:
    if connection.vendor == "postgresql":
        return Cast(Extract(name, "epoch"), FloatField())
    return F(name)


def _seconds(value: float | datetime) -> float:
    return value if isinstance(value, float) else value.timestamp()


def policy_job_id(pk: int) -> str:
    """The policy breaks submit-time ties by job id as text: pad it so text order is pk order."""
    return f"{pk:012d}"


@dataclass
class Site:
    """The cached state of the cluster's queue as the policy needs it."""

    nodes: dict[str, GpuTypeNodes]
    type_names: dict[int, str]
    pending: PendingQueues = field(default_factory=PendingQueues)
    capacity: dict[str, GpuTypeCapacity] = field(default_factory=dict)
    reasons: dict[int, str] = field(default_factory=dict)
    """Pending job id → the reason stored on its row (only changes are written)."""
    estimates: dict[int, datetime] = field(default_factory=dict)
    """Pending job id → estimated start stored on its row (the backfill reservations)."""
    events: FeedCursor = field(default_factory=FeedCursor)
    book: ProjectBook = field(default_factory=ProjectBook)
    loaded_at: float = field(default_factory=time.monotonic)

    def project_ids(self) -> set[int]:
        ids: set[int] = set()
        for gpu_type in self.pending.gpu_types():
            ids.update(self.pending.by_project(gpu_type))
        for queue in self.pending.booked().values():
            ids.update(job.project_id for job in queue)
        return ids

    def running_gpus(self) -> dict[int, int]:
        running: dict[int, int] = {}
        for capacity in self.capacity.values():
            for project_id, gpus in capacity.running_gpus_by_project.items():
                running[project_id] = running.get(project_id, 0) + gpus
        return running

    def snapshot(
        self,
        config: PolicyConfig,
        projects: Iterable[Project],
        tiers: dict[int, int] | None = None,
        bookings: dict[int, Booking] | None = None,
    ) -> Snapshot:
        """A snapshot sharing this site's queues and capacity (the policy only reads them);
        ``tiers`` covers the projects that run jobs but have nothing pending."""
        return Snapshot(
            config=config,
            projects={project.project_id: project for project in projects},
            pending=self.pending,
            capacity=self.capacity,
            tiers=tiers or {},
            bookings=bookings or {},
        )

    # -- applying jobs' current rows --------------------------------------------------------

    def apply(self, rows: Sequence[Row]) -> None:
        """Bring these jobs in line with their rows: GPUs freed first, then GPUs taken (a
        node's free count never dips below zero while its jobs change)."""
        starting = []
        for row in rows:
            running = self._note(row)
            if running is not None:
                starting.append(running)
        for running in starting:
            self.start(self.capacity[running.gpu_type], running)

    def _note(self, row: Row) -> RunningJob | None:
        """Queue or dequeue the job and free its GPUs if needed; returns it if it must start."""
        pk, state, project_id, type_id, gpus, walltime, submitted_at, booking = row[:8]
        reason, estimate, expected_end, placement, strict = row[8:]
        job_id = policy_job_id(pk)
        gpu_type = self.type_names.get(type_id) or _type_name(self, type_id)
        if state == JobState.PENDING:
            self.pending.add(
                PendingJob(
                    job_id,
                    project_id,
                    gpu_type,
                    gpus,
                    walltime,
                    _seconds(submitted_at),
                    booking,
                    strict,
                )
            )
            self.reasons[pk] = reason
            if estimate is None:
                self.estimates.pop(pk, None)
            else:
                self.estimates[pk] = estimate
        else:
            self.pending.remove(job_id)
            self.reasons.pop(pk, None)
            self.estimates.pop(pk, None)
        capacity = self.capacity.get(gpu_type)
        if capacity is None:
            return None
        tracked = capacity.running_job(job_id)
        running = None
        if state in ACTIVE_STATES and placement and expected_end is not None:
            running = RunningJob(
                job_id,
                project_id,
                gpu_type,
                gpus,
                _seconds(expected_end),
                tuple((int(node), int(share)) for node, share in placement),
            )
        if tracked is not None and tracked == running:
            return None
        if tracked is not None:
            capacity.end_job(job_id)
        return running

    def start(self, capacity: GpuTypeCapacity, job: RunningJob) -> None:
        if all(0 <= node < capacity.pool.node_count for node, _gpus in job.placement):
            capacity.start_job(job)
        else:
            logger.warning("job %s is placed outside the %s nodes", job.job_id, job.gpu_type)


def _type_name(site: Site, type_id: int) -> str:
    site.type_names = dict(GpuType.objects.values_list("pk", "name"))
    return site.type_names.get(type_id, f"gpu-type-{type_id}")


class SnapshotCache:
    """This process's site, refreshed at the start of each cycle (under the cycle lock)."""

    def __init__(self) -> None:
        self.site: Site | None = None

    def invalidate(self) -> None:
        self.site = None

    def refresh(self, nodes: dict[str, GpuTypeNodes]) -> tuple[Site, bool]:
        """The up-to-date site, and whether it had to be loaded in full."""
        site = self.site
        max_age = settings.ADMISSION_SNAPSHOT_MAX_AGE_SECONDS
        fresh = (
            site is not None
            and site.nodes == nodes
            and time.monotonic() - site.loaded_at < max_age
            and _follow_feed(site)
        )
        if fresh and site is not None:
            return site, False
        self.site = load_site(nodes)
        return self.site, True


def load_site(nodes: dict[str, GpuTypeNodes]) -> Site:
    """Read every pending and active job (the cold start of a worker process)."""
    site = Site(nodes=nodes, type_names=dict(GpuType.objects.values_list("pk", "name")))
    site.events = FeedCursor.at_end(JobEvent)  # before the jobs: later changes come as events
    for name, gpu_type_nodes in nodes.items():
        site.capacity[name] = GpuTypeCapacity(
            name,
            [gpu_type_nodes.gpus_per_node] * gpu_type_nodes.nodes,
            gpus_per_node=gpu_type_nodes.gpus_per_node,
            booked_nodes=gpu_type_nodes.unavailable,
        )
    pending = Job.objects.filter(state=JobState.PENDING).order_by("submitted_at", "pk")
    site.pending = PendingQueues(_pending_jobs(site, job_rows(pending)))
    active = Job.objects.filter(state__in=ACTIVE_STATES).order_by("expected_end", "pk")
    site.apply(list(job_rows(active)))
    return site


def _pending_jobs(site: Site, rows: Iterable[Row]) -> Iterator[PendingJob]:
    names = site.type_names
    for row in rows:
        pk, _state, project_id, type_id, gpus, walltime, submitted_at, booking = row[:8]
        reason, estimate = row[8], row[9]
        site.reasons[pk] = reason
        if estimate is not None:
            site.estimates[pk] = estimate
        gpu_type = names.get(type_id) or _type_name(site, type_id)
        yield PendingJob(
            policy_job_id(pk),
            project_id,
            gpu_type,
            gpus,
            walltime,
            _seconds(submitted_at),
            booking,
            row[12],
        )


def _follow_feed(site: Site) -> bool:
    """Apply the jobs named by new events (and late ones); False when a full load is better."""
    behind = site.events.behind(JobEvent)
    if behind is None or behind > FEED_MAX_BEHIND:
        return False
    events = site.events.read(JobEvent.objects.all(), "pk", "job_id")
    changed = sorted({job_id for _pk, job_id in events})
    rows: list[Row] = []
    for chunk in _chunks(changed, CHUNK):
        rows += job_rows(Job.objects.filter(pk__in=chunk).order_by("pk"))
    site.apply(rows)
    return True


def _chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
