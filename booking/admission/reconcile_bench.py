"""Reconcile at full scale, a part of ``booking.admission.benchmark`` (same scratch site).

Every running job of the site is put on the simulated cluster (untimed); one reconcile with a
full answer is timed, then ``runs`` reconciles by changes, the simulator's clock moving 300 s
before each (untimed) so the jobs due end on the cluster and reconcile settles them.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from booking.admission.reconcile import ReconcileReport, jobs_reconcile
from booking.cluster.simulator.backend import SimulatorBackend
from booking.models import ACTIVE_STATES, Job, SimulatedJob, SimulatedJobState
from booking.models.jobs import submission_key

INTERVAL = timedelta(seconds=300)
BATCH = 5_000


def reconcile_figures(*, runs: int) -> list[str]:
    """Time reconciles of the current site; one line per figure."""
    sim = SimulatorBackend()
    sent = _send_active_jobs()
    active = Job.objects.filter(state__in=ACTIVE_STATES).count()
    full_ms, _report = _timed(lambda: jobs_reconcile(backend=sim, full=True))
    timed = []
    for _ in range(runs):
        sim.advance(INTERVAL)
        timed.append(_timed(lambda: jobs_reconcile(backend=sim)))
    durations = [ms for ms, _report in timed]
    finished = [report.finished for _ms, report in timed]
    left = Job.objects.filter(state__in=ACTIVE_STATES).count()
    return [
        f"reconcile: {active:,} active jobs on the simulated cluster ({sent:,} put there), "
        f"{left:,} still active after {runs} runs",
        f"reconcile with a full answer (every active job): {full_ms:.0f} ms",
        f"reconcile by changes p50: {_nearest_rank(durations, 0.5):.0f} ms, "
        f"p99: {_nearest_rank(durations, 0.99):.0f} ms, max: {max(durations):.0f} ms",
        f"jobs finished and settled per reconcile (mean): {statistics.fmean(finished):.0f}",
    ]


def _timed(action: object) -> tuple[float, ReconcileReport]:
    started = time.perf_counter()
    report = action()  # type: ignore[operator]
    return (time.perf_counter() - started) * 1000, report


def _send_active_jobs() -> int:
    """Simulated jobs for the site's active jobs that the cluster does not know yet: each
    runs until its expected end, as the admission benchmark's site assumed."""
    names = dict(Job.objects.values_list("gpu_type_id", "gpu_type__name").distinct().order_by())
    rows = Job.objects.filter(state__in=ACTIVE_STATES, expected_end__isnull=False).values_list(
        "uuid",
        "attempt",
        "project_id",
        "gpu_type_id",
        "gpus",
        "placement",
        "walltime_minutes",
        "started_at",
        "admitted_at",
        "expected_end",
        "name",
    )
    jobs = [_simulated(row, names) for row in rows]
    before = SimulatedJob.objects.count()
    SimulatedJob.objects.bulk_create(jobs, batch_size=BATCH, ignore_conflicts=True)
    return SimulatedJob.objects.count() - before


def _simulated(row: tuple[Any, ...], names: dict[int, str]) -> SimulatedJob:
    job_uuid, attempt, project, type_id, gpus, placement, walltime = row[:7]
    started, admitted, end, name = row[7:]
    start = started or admitted or end - timedelta(minutes=walltime)
    return SimulatedJob(
        key=submission_key(job_uuid, attempt),
        name=name,
        account=str(project),
        gpu_type=names[type_id],
        gpus=gpus,
        placement=placement or [],
        walltime_seconds=walltime * 60,
        runtime_seconds=max(int((end - start).total_seconds()), 0),
        outcome=SimulatedJobState.COMPLETED,
        exit_code=0,
        state=SimulatedJobState.RUNNING,
        submitted_at=start,
        started_at=start,
        ends_at=end,
    )


def _nearest_rank(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)]
