"""Publishing the queue after each cycle, for requests to read instead of walking the queue.

``queue_publish`` runs inside the cycle's transaction, after the decisions are written: it
computes the record with the pure policy (``booking.scheduler.standing.queue_record``), upserts
one ``QueueOutlook`` per GPU type, and replaces every ``QueueStanding`` row (one per GPU type
and project with pending or active jobs) in one statement — a ``COPY`` on PostgreSQL. Readers
keep seeing the previous cycle's rows until the cycle commits.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from django.db import connection, transaction

from booking.admission.snapshot import Site
from booking.jobs.priority import project_tiers
from booking.models import QueueOutlook, QueueStanding
from booking.scheduler import CycleResult, Snapshot
from booking.scheduler.standing import (
    FiguresCache,
    ProjectStanding,
    QueueRecord,
    TypeOutlook,
    queue_record,
)

logger = logging.getLogger(__name__)

TIERS_MAX_AGE_SECONDS = 30.0
PUBLISH_LOCK_KEY = 0x5347_5051_5545_5545  # "SGPQUEUE"

_STANDING_COLUMNS = (
    "outlook_id",
    "gpu_type_id",
    "project_id",
    "tier",
    "rank",
    "jobs_ahead",
    "gpus_ahead",
    "gpu_minutes_ahead",
    "pending_jobs",
    "pending_gpus",
    "pending_gpu_minutes",
    "active_jobs",
    "active_gpus",
    "marks",
)


class _Tiers:
    """Tiers of projects that only have running jobs (the snapshot holds those with pending
    ones), read once and again every ``TIERS_MAX_AGE_SECONDS``."""

    def __init__(self) -> None:
        self.known: dict[int, int] = {}
        self.key: tuple[date, float] | None = None

    def of(self, project_ids: Iterable[int], *, today: date) -> dict[int, int]:
        now = time.monotonic()
        if self.key is None or self.key[0] != today or now - self.key[1] > TIERS_MAX_AGE_SECONDS:
            self.known, self.key = {}, (today, now)
        missing = set(project_ids) - self.known.keys()
        if missing:
            self.known.update(project_tiers(missing, today=today))
        return self.known


_tiers = _Tiers()


class _Figures:
    """The last record's queue figures, reused while the snapshot is the same ``Site``."""

    def __init__(self) -> None:
        self.site: Site | None = None
        self.figures: FiguresCache = {}

    def of(self, site: Site) -> FiguresCache:
        return self.figures if self.site is site else {}

    def keep(self, site: Site, figures: FiguresCache) -> None:
        self.site, self.figures = site, figures


_figures = _Figures()


@dataclass(frozen=True)
class QueuePublication:
    """What a committed cycle leaves to publish; ``as_of`` is the wall-clock time of its start
    (jobs submitted later are not in its record)."""

    site: Site
    snapshot: Snapshot
    result: CycleResult
    as_of: datetime
    last_job_id: int = 0
    """The highest job id before the snapshot: later jobs are not in the record."""


last_publish_ms: float | None = None
"""How long the last publication in this process took (the benchmark reports it)."""


def queue_publish(publication: QueuePublication) -> None:
    """Publish the queue a committed cycle left, in its own transaction; serialised between
    workers, and skipped when a newer cycle's record is already there. A failure is logged:
    readers keep the previous record."""
    global last_publish_ms
    started = time.perf_counter()
    try:
        with transaction.atomic():
            _publish_lock()
            if not _newer_published(publication.as_of):
                _publish(publication)
    except Exception:
        logger.exception("publishing the queue failed; requests read the previous cycle's")
    last_publish_ms = (time.perf_counter() - started) * 1000


def _publish_lock() -> None:
    """One publication at a time (PostgreSQL; SQLite serialises writers by itself). Its commit
    need not wait for the disk: a record lost in a crash is rebuilt by the next cycle."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [PUBLISH_LOCK_KEY])


def _newer_published(as_of: datetime) -> bool:
    return QueueOutlook.objects.filter(published_at__gt=as_of).exists()


def _publish(publication: QueuePublication) -> None:
    site, snapshot, result = publication.site, publication.snapshot, publication.result
    now = datetime.fromtimestamp(snapshot.config.now, tz=UTC)
    active = {
        project_id
        for capacity in snapshot.capacity.values()
        for project_id in capacity.running_jobs_by_project
    }
    tiers = _tiers.of(active - snapshot.projects.keys(), today=now.date())
    record = queue_record(snapshot, result, tiers=tiers, figures=_figures.of(site))
    _figures.keep(site, record.figures)
    type_ids = {name: pk for pk, name in site.type_names.items()}
    outlook_ids = _outlooks_write(
        record, type_ids, publication.as_of, _tier_sums(record), publication.last_job_id
    )
    rows = _standing_rows(record.standings, type_ids, outlook_ids)
    QueueStanding.objects.all().delete()
    if connection.vendor == "postgresql":
        _copy(QueueStanding._meta.db_table, _STANDING_COLUMNS, rows)
    else:
        QueueStanding.objects.bulk_create(
            [QueueStanding(**dict(zip(_STANDING_COLUMNS, row, strict=True))) for row in rows],
            batch_size=500,
        )


TierSums = dict[str, dict[str, list[int]]]
"""GPU type -> tier (as text, a JSON key) -> [pending jobs, pending GPUs, active jobs, GPUs]."""


def _tier_sums(record: QueueRecord) -> TierSums:
    sums: TierSums = {}
    for s in record.standings:
        figures = sums.setdefault(s.gpu_type, {}).setdefault(str(s.tier), [0, 0, 0, 0])
        figures[0] += s.pending_jobs
        figures[1] += s.pending_gpus
        figures[2] += s.active_jobs
        figures[3] += s.active_gpus
    return sums


def _outlooks_write(
    record: QueueRecord, type_ids: dict[str, int], now: datetime, tiers: TierSums, last_job: int
) -> dict[str, int]:
    outlooks = [
        _outlook(outlook, type_ids[name], now, tiers.get(name, {}), last_job)
        for name, outlook in record.outlooks.items()
        if name in type_ids
    ]
    QueueOutlook.objects.bulk_create(
        outlooks,
        update_conflicts=True,
        unique_fields=["gpu_type"],
        update_fields=[
            "published_at",
            "total_gpus",
            "usable_gpus",
            "used_gpus",
            "releases",
            "tiers",
            "last_job_id",
        ],
    )
    names = {pk: name for name, pk in type_ids.items()}
    return {
        names[type_id]: pk
        for type_id, pk in QueueOutlook.objects.values_list("gpu_type_id", "pk")
        if type_id in names
    }


def _outlook(
    outlook: TypeOutlook, type_id: int, now: datetime, tiers: dict[str, list[int]], last_job: int
) -> QueueOutlook:
    return QueueOutlook(
        gpu_type_id=type_id,
        published_at=now,
        last_job_id=last_job,
        total_gpus=outlook.total_gpus,
        usable_gpus=outlook.usable_gpus,
        used_gpus=outlook.used_gpus,
        releases=[[round(end, 3), gpus] for end, gpus in outlook.releases],
        tiers=tiers,
    )


def _standing_rows(
    standings: Sequence[ProjectStanding], type_ids: dict[str, int], outlook_ids: dict[str, int]
) -> list[tuple[Any, ...]]:
    return [
        (
            outlook_ids[s.gpu_type],
            type_ids[s.gpu_type],
            s.project_id,
            s.tier,
            s.rank,
            s.ahead.jobs,
            s.ahead.gpus,
            s.ahead.gpu_minutes,
            s.pending_jobs,
            s.pending_gpus,
            s.pending_gpu_minutes,
            s.active_jobs,
            s.active_gpus,
            [
                [m.submit_time, int(m.job_id), m.position, m.gpus_before, m.gpu_minutes_before]
                for m in s.marks
            ],
        )
        for s in standings
        if s.gpu_type in outlook_ids
    ]


def _copy(table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> None:
    """All rows in one ``COPY … FROM STDIN`` (PostgreSQL)."""
    # The table and column names are this module's constants, never input.
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for row in _json_last(rows):
            copy.write_row(row)


def _json_last(rows: Iterable[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    for row in rows:
        # Most queues are too short for marks: no encoder call for those.
        yield (*row[:-1], json.dumps(row[-1]) if row[-1] else "[]")
