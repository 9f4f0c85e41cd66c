"""Reconcile at full scale: 60,000 active jobs on the simulated cluster, on PostgreSQL.

Run ``DATABASE_URL=postgres://… python -m booking.admission.reconcile_bench [--runs 60]
[--interval 5] [--scale 1]``. It builds the site of ``booking.admission.benchmark`` in a scratch
database of its own (``<name>_reconcile_bench``, dropped at the end), puts every running job on
the simulated cluster (untimed), times one reconcile with a full answer, then ``--runs``
reconciles by changes, the simulator's clock moving ``--interval`` seconds before each (untimed,
the production cadence by default) so the jobs due end on the cluster and reconcile settles
them. Each run also checks its slice of the safety net.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from stargate_portal.scratch_databases import postgres_url_or_skip

if TYPE_CHECKING:
    from booking.admission.reconcile import ReconcileReport
    from booking.models import SimulatedJob

BATCH = 5_000


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=60, help="reconciles by changes to time")
    parser.add_argument(
        "--interval",
        type=float,
        default=5.0,
        help="cluster seconds between runs (JOBS_RECONCILE_SECONDS in production)",
    )
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full site")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the site")
    args = parser.parse_args(argv)
    url = postgres_url_or_skip("reconcile benchmark")
    if url is None:
        return 0
    from booking.admission.bench_db import scratch_database

    with scratch_database(url, "reconcile_bench"):
        from booking.admission.bench_site import build_site

        started = time.perf_counter()
        site = build_site(scale=args.scale, seed=args.seed)
        print(f"{site.describe()}; database build: {time.perf_counter() - started:.1f} s")
        for line in reconcile_figures(runs=args.runs, interval=args.interval):
            print(line, flush=True)
    return 0


def reconcile_figures(*, runs: int, interval: float = 5.0) -> list[str]:
    """Time reconciles of the current site; one line per figure."""
    from booking.admission.reconcile import jobs_reconcile
    from booking.cluster.simulator.backend import SimulatorBackend
    from booking.models import ACTIVE_STATES, Job

    sim = SimulatorBackend()
    sent = _send_active_jobs()
    active = Job.objects.filter(state__in=ACTIVE_STATES).count()
    full_ms, _report = _timed(lambda: jobs_reconcile(backend=sim, full=True))
    timed = []
    for _ in range(runs):
        sim.advance(timedelta(seconds=interval))
        timed.append(_timed(lambda: jobs_reconcile(backend=sim)))
    durations = [ms for ms, _report in timed]
    finished = [report.finished for _ms, report in timed]
    left = Job.objects.filter(state__in=ACTIVE_STATES).count()
    return [
        f"reconcile: {active:,} active jobs on the simulated cluster ({sent:,} put there), "
        f"{left:,} still active after {runs} runs {interval:.0f} s apart",
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
    from booking.models import ACTIVE_STATES, Job, SimulatedJob

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
    from booking.models import SimulatedJob, SimulatedJobState
    from booking.models.jobs import submission_key

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


if __name__ == "__main__":
    sys.exit(main())
