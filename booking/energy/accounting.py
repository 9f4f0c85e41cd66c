"""Accounting the energy of finished jobs and of booked nodes left idle, exactly once.

A job attempt's run is cut at each month start and at each change of a factor; each piece is
computed with the factors in force during it, and the pieces of one month make one
``EnergyRecord``. Measured energy (the cluster's) is shared among the pieces by runtime; without
it the energy is estimated from the GPU type's power. The records and the monthly totals they
add to are written in one transaction, and the unique constraints refuse a second accounting.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from booking.energy.estimates import Figures, busy_it_kwh, figures_of, idle_it_kwh
from booking.energy.factors import FactorBook
from booking.energy.totals import month_totals_add
from booking.models import (
    FINAL_STATES,
    BookingState,
    CapacityBooking,
    EnergyKind,
    EnergyMethod,
    EnergyRecord,
    Job,
)

logger = logging.getLogger(__name__)
HOUR_SECONDS = Decimal(3600)
JOULES_PER_KWH = Decimal(3_600_000)
SWEEP_DAYS = 35
SWEEP_BATCH = 1_000


def month_of(moment: datetime) -> date:
    return moment.astimezone(UTC).date().replace(day=1)


def next_month(month: date) -> date:
    return (month + timedelta(days=32)).replace(day=1)


def _cuts(book: FactorBook, gpu_type_id: int, start: datetime, end: datetime) -> list[datetime]:
    """``start``, every month start and factor change inside the run, ``end``."""
    moments = set(book.changes_between(gpu_type_id, start, end))
    month = next_month(month_of(start))
    while (boundary := datetime(month.year, month.month, 1, tzinfo=UTC)) < end:
        moments.add(boundary)
        month = next_month(month)
    return [start, *sorted(moments), end]


def _sum(figures: Iterable[Figures]) -> Figures:
    items = list(figures)
    return Figures(
        **{
            name: sum((getattr(f, name) for f in items), Decimal(0))
            for name in Figures.__dataclass_fields__
        }
    )


def job_energy_figures(job: Job, *, book: FactorBook) -> dict[date, Figures]:
    """The figures of the job's latest run, per month; {} if it never ran."""
    if not job.started_at or not job.runtime_seconds:
        return {}
    start = job.started_at
    end = start + timedelta(seconds=job.runtime_seconds)
    total = Decimal(job.runtime_seconds)
    measured = job.consumed_energy_joules
    months: dict[date, list[Figures]] = defaultdict(list)
    cuts = _cuts(book, job.gpu_type_id, start, end)
    for piece_start, piece_end in pairwise(cuts):
        seconds = Decimal((piece_end - piece_start).total_seconds())
        gpu_hours = job.gpus * seconds / HOUR_SECONDS
        if measured:
            it_kwh = Decimal(measured) / JOULES_PER_KWH * seconds / total
        else:
            it_kwh = busy_it_kwh(gpu_hours=gpu_hours, power=book.gpu_at(job.gpu_type, piece_start))
        site = book.site_at(piece_start)
        months[month_of(piece_start)].append(
            figures_of(gpu_hours=gpu_hours, it_kwh=it_kwh, site=site)
        )
    return {month: _sum(pieces) for month, pieces in months.items()}


def _job_records(job: Job, book: FactorBook, now: datetime) -> list[EnergyRecord]:
    project = job.project
    tier = int(project.priority_tier())
    method = EnergyMethod.MEASURED if job.consumed_energy_joules else EnergyMethod.ESTIMATED
    assert job.started_at is not None  # noqa: S101 - job_energy_figures returned pieces
    end = job.started_at + timedelta(seconds=job.runtime_seconds or 0)
    return [
        EnergyRecord(
            kind=EnergyKind.JOB,
            method=method,
            job=job,
            attempt=job.attempt,
            project=project,
            organisation_id=project.organisation_id,
            gpu_type_id=job.gpu_type_id,
            tier=tier,
            month=month,
            started_at=max(job.started_at, datetime(month.year, month.month, 1, tzinfo=UTC)),
            ended_at=min(end, datetime(*next_month(month).timetuple()[:3], tzinfo=UTC)),
            computed_at=now,
            **figures.as_dict(),
        )
        for month, figures in sorted(job_energy_figures(job, book=book).items())
    ]


def job_energy_account(*, job_id: int, book: FactorBook | None = None) -> int:
    """Account a finished job's energy once; the number of records written (0: already
    accounted, not finished, or it never ran)."""
    job = Job.objects.select_related("project__organisation", "gpu_type").filter(pk=job_id).first()
    if job is None or job.state not in FINAL_STATES or not job.runtime_seconds:
        return 0
    if EnergyRecord.objects.filter(job=job, attempt=job.attempt).exists():
        return 0
    records = _job_records(job, book or FactorBook(), timezone.now())
    return _records_save(records)


def _records_save(records: list[EnergyRecord]) -> int:
    """Write records and add them to the monthly totals, or nothing if another worker did."""
    if not records:
        return 0
    try:
        with transaction.atomic():
            EnergyRecord.objects.bulk_create(records)
            month_totals_add(records)
    except IntegrityError:
        logger.info("energy already accounted by another worker: %s", records[0])
        return 0
    return len(records)


def booking_idle_figures(booking: CapacityBooking, *, book: FactorBook) -> dict[date, Figures]:
    """The idle part of a finished booking, per month: booked GPU-hours no job of the booking
    used, spread evenly over the window (the jobs' own energy is in their records)."""
    start, end = booking.starts_at, booking.ends_at
    window = Decimal((end - start).total_seconds())
    used_seconds = Decimal(0)
    runs = Job.objects.filter(booking_id=booking.pk, started_at__isnull=False).values_list(
        "gpus", "started_at", "runtime_seconds"
    )
    for gpus, started_at, runtime in runs:
        if started_at is None:
            continue
        run_end = started_at + timedelta(seconds=runtime or 0)
        overlap = (min(run_end, end) - max(started_at, start)).total_seconds()
        used_seconds += gpus * Decimal(max(overlap, 0))
    booked_gpu_seconds = booking.node_count * booking.gpus_per_node * window
    idle_share = max(booked_gpu_seconds - used_seconds, Decimal(0)) / booked_gpu_seconds
    months: dict[date, list[Figures]] = defaultdict(list)
    cuts = _cuts(book, booking.gpu_type_id, start, end)
    for piece_start, piece_end in pairwise(cuts):
        seconds = Decimal((piece_end - piece_start).total_seconds())
        gpu_hours = booking.node_count * booking.gpus_per_node * seconds / HOUR_SECONDS * idle_share
        power = book.gpu_at(booking.gpu_type, piece_start)
        it_kwh = idle_it_kwh(gpu_hours=gpu_hours, power=power)
        site = book.site_at(piece_start)
        months[month_of(piece_start)].append(
            figures_of(gpu_hours=gpu_hours, it_kwh=it_kwh, site=site)
        )
    return {month: _sum(pieces) for month, pieces in months.items()}


def _booking_records(
    booking: CapacityBooking, book: FactorBook, now: datetime
) -> list[EnergyRecord]:
    project = booking.project
    tier = int(project.priority_tier())
    return [
        EnergyRecord(
            kind=EnergyKind.IDLE,
            method=EnergyMethod.IDLE,
            booking=booking,
            project=project,
            organisation_id=project.organisation_id,
            gpu_type_id=booking.gpu_type_id,
            tier=tier,
            month=month,
            started_at=max(booking.starts_at, datetime(month.year, month.month, 1, tzinfo=UTC)),
            ended_at=min(booking.ends_at, datetime(*next_month(month).timetuple()[:3], tzinfo=UTC)),
            computed_at=now,
            **figures.as_dict(),
        )
        for month, figures in sorted(booking_idle_figures(booking, book=book).items())
        if figures.gpu_hours > 0
    ]


def booking_idle_energy_account(*, booking_id: int, book: FactorBook | None = None) -> int:
    """Account the idle energy of a completed booking once; the number of records written."""
    booking = (
        CapacityBooking.objects.select_related("project__organisation", "gpu_type")
        .filter(pk=booking_id, state=BookingState.COMPLETED)
        .first()
    )
    if booking is None or EnergyRecord.objects.filter(booking=booking).exists():
        return 0
    return _records_save(_booking_records(booking, book or FactorBook(), timezone.now()))


def energy_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Account what ended in the last weeks and has no record yet (a task that was never
    queued, or failed); bounded per run."""
    since = (now or timezone.now()) - timedelta(days=SWEEP_DAYS)
    book = FactorBook()
    accounted = EnergyRecord.objects.filter(job=OuterRef("pk"), attempt=OuterRef("attempt"))
    jobs = (
        Job.objects.filter(state__in=FINAL_STATES, ended_at__gte=since, runtime_seconds__gt=0)
        .filter(~Exists(accounted))
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    job_records = sum(job_energy_account(job_id=pk, book=book) for pk in jobs)
    booked = EnergyRecord.objects.filter(booking=OuterRef("pk"))
    bookings = (
        CapacityBooking.objects.filter(state=BookingState.COMPLETED, ends_at__gte=since)
        .filter(~Exists(booked))
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    idle_records = sum(booking_idle_energy_account(booking_id=pk, book=book) for pk in bookings)
    return {"job_records": job_records, "idle_records": idle_records}
