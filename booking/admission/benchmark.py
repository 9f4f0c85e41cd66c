"""Whole admission cycles on PostgreSQL at full size: load the snapshot, decide, write.

Run ``DATABASE_URL=postgres://… python -m booking.admission.benchmark [--cycles 20] [--scale 1]``.
It creates a scratch database ``<name>_admission_bench`` next to the one DATABASE_URL names
(dropped at the end unless ``--keep``), migrates it and fills it with bulk inserts: the site of
``booking.scheduler.benchmark`` (12,500 nodes x 8 GPUs over three GPU types, 2,000 projects
over four tiers, 100,000 pending and 60,000 running jobs with their ledger holds). Then it runs
one cold cycle (full snapshot load) and ``--cycles`` warm ones exactly as a worker runs them
(``admission_run``: lock, snapshot from the job-event feed, policy, holds and job writes,
commit, then sending the admitted jobs to the simulator). Between cycles, untimed, the clock
moves 300 s: jobs due end (with their events and ledger entries), admitted jobs start, and as
many new jobs arrive as were admitted. Then ``--bookings`` active capacity bookings are added
(``booking.admission.bench_bookings``) and as many warm cycles are timed again, so the figures
with and without bookings come from the same run. With ``--keep`` it then adds what the site
holds besides its queue (``bench_site.site_rest_build``: a call of 3,000 applications under
review, notifications, an energy record for every finished job), so that the sweeps and the
load benchmark that read the kept site reach those pages at full scale too.
"""

from __future__ import annotations

import argparse
import math
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

from stargate_portal.scratch_databases import postgres_url_or_skip, scratch_django_database

INTERVAL_SECONDS = 300.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cycles", type=int, default=20, help="warm cycles to time")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full site")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the site")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--bookings",
        type=int,
        default=1000,
        help="active capacity bookings added after the warm cycles, for as many cycles again",
    )
    args = parser.parse_args(argv)
    url = postgres_url_or_skip("whole-cycle benchmark")
    if url is None:
        return 0
    with scratch_django_database(
        url, "admission_bench", keep=args.keep, env={"ADMISSION_ON_SUBMIT": "false"}
    ):
        lines = run(cycles=args.cycles, scale=args.scale, seed=args.seed, bookings=args.bookings)
        for line in lines:
            print(line, flush=True)
        if args.keep:  # the sweeps and the load benchmark read the rest of a site too
            from booking.admission.bench_site import site_rest_build

            for line in site_rest_build(seed=args.seed):
                print(line, flush=True)
    return 0


def run(*, cycles: int, scale: float, seed: int, bookings: int = 0) -> list[str]:
    """Build the site in the current database, time the cycles, return one line per figure."""
    from booking.admission.bench_site import build_site

    started = time.perf_counter()
    site = build_site(scale=scale, seed=seed)
    lines = [site.describe(), f"database build: {time.perf_counter() - started:.1f} s"]
    cold = _timed_cycle()
    lines.append(
        f"cold cycle (full snapshot load, {cold.report.pending_jobs:,} pending): "
        f"{cold.total_ms:.0f} ms (snapshot {cold.report.snapshot_ms:.0f} ms)"
    )
    warm: list[_Timed] = []
    for _ in range(cycles):
        site.advance(cold.report.admitted if not warm else warm[-1].report.admitted)
        warm.append(_timed_cycle())
    lines += _figures(warm)
    last = warm[-1]
    if bookings:
        last, booked_lines = _with_bookings(site, last, count=bookings, cycles=cycles, base=warm)
        lines += booked_lines
    site.advance(last.report.admitted)
    lines += _saturated(site, cycles=max(cycles // 2, 3))
    lines += _memory(site)
    return lines


class _Timed:
    def __init__(self, report: Any, total_ms: float, publish_ms: float = 0.0) -> None:
        self.report, self.total_ms, self.publish_ms = report, total_ms, publish_ms


def _timed_cycle() -> _Timed:
    from booking.admission import standing
    from booking.admission.cycle import admission_run
    from booking.cluster.simulator.backend import SimulatorBackend

    started = time.perf_counter()
    report = admission_run(backend=SimulatorBackend())
    if report is None:
        raise RuntimeError("another admission cycle holds the lock")
    total_ms = (time.perf_counter() - started) * 1000
    return _Timed(report, total_ms, standing.last_publish_ms or 0.0)


def _nearest_rank(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)]


def _figures(warm: Sequence[_Timed]) -> list[str]:
    cycle_ms = [t.report.duration_ms for t in warm]
    total_ms = [t.total_ms for t in warm]
    publish_ms = [t.publish_ms for t in warm]
    admitted = [len(t.report.admitted) for t in warm]
    rate = sum(admitted) / (sum(total_ms) / 1000)

    def part(name: str) -> str:
        values = [getattr(t.report, f"{name}_ms") for t in warm]
        return f"{statistics.median(values):.0f}"

    return [
        f"warm cycles: {len(warm)} (clock advances {INTERVAL_SECONDS:.0f} s between cycles)",
        f"whole cycle p50: {_nearest_rank(cycle_ms, 0.5):.0f} ms",
        f"whole cycle p99: {_nearest_rank(cycle_ms, 0.99):.0f} ms",
        f"whole cycle + sending to the simulator p50: {_nearest_rank(total_ms, 0.5):.0f} ms",
        f"whole cycle + sending to the simulator p99: {_nearest_rank(total_ms, 0.99):.0f} ms",
        f"queue publication after the commit (in the figure above) p50: "
        f"{_nearest_rank(publish_ms, 0.5):.0f} ms, p99: {_nearest_rank(publish_ms, 0.99):.0f} ms",
        f"cycle parts (median): snapshot {part('snapshot')} ms, policy {part('policy')} ms, "
        f"writes {part('apply')} ms",
        f"admissions per cycle (mean): {statistics.fmean(admitted):.0f}",
        f"admissions/s at this load (DB writes and sending included): {rate:.0f}",
    ]


def _with_bookings(
    site: Any, last: _Timed, *, count: int, cycles: int, base: Sequence[_Timed]
) -> tuple[_Timed, list[str]]:
    """The same warm cycles again once ``count`` active bookings exist (same run, same site)."""
    from booking.admission.bench_bookings import bookings_add

    site.advance(last.report.admitted)
    jobs = bookings_add(site, count=count)
    # The first cycle takes the booked nodes out of the general pool (once); timed apart.
    first = _timed_cycle()
    timed: list[_Timed] = []
    for _ in range(cycles):
        site.advance((timed[-1] if timed else first).report.admitted)
        timed.append(_timed_cycle())
    lines = [
        f"with {count:,} active bookings ({jobs:,} jobs waiting in the open ones):",
        f"first cycle after the bookings appeared (booked nodes leave the pool): "
        f"{first.total_ms:.0f} ms",
        *(f"with bookings: {line}" for line in _figures(timed)),
    ]
    for fraction, label in ((0.5, "p50"), (0.99, "p99")):
        without = _nearest_rank([t.report.duration_ms for t in base], fraction)
        with_ = _nearest_rank([t.report.duration_ms for t in timed], fraction)
        lines.append(
            f"whole cycle {label} with bookings / without: {with_:.0f} / {without:.0f} ms "
            f"({(with_ / without - 1) * 100:+.1f} %)"
        )
    return timed[-1], lines


def _saturated(site: Any, *, cycles: int) -> list[str]:
    """Cycles with much to admit: before each, untimed, 1 % of the nodes are drained."""
    timed: list[_Timed] = []
    for _ in range(cycles):
        site.end_running(node_fraction=0.01)
        timed.append(_timed_cycle())
        site.advance(timed[-1].report.admitted)
    admitted = sum(len(t.report.admitted) for t in timed)
    seconds = sum(t.total_ms for t in timed) / 1000
    total_ms = [t.total_ms for t in timed]
    return [
        f"saturated cycles: {cycles} (1% of nodes drained before each), "
        f"{admitted / cycles:.0f} admissions per cycle",
        f"saturated cycle + sending p50: {_nearest_rank(total_ms, 0.5):.0f} ms, "
        f"p99: {_nearest_rank(total_ms, 0.99):.0f} ms",
        f"sustained admissions/s under saturation (DB writes and sending included): "
        f"{admitted / seconds:.0f}",
    ]


def _memory(site: Any) -> list[str]:
    from booking.admission.cycle import snapshot_cache

    site.advance([])
    warm_peak = _traced(_timed_cycle)
    snapshot_cache.invalidate()
    cold_peak = _traced(_timed_cycle)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return [
        f"peak memory (tracemalloc) of a warm cycle: {warm_peak:.0f} MiB",
        f"peak memory (tracemalloc) of a cold cycle incl. the snapshot: {cold_peak:.0f} MiB",
        f"process max RSS (incl. building the site): {rss:.0f} MiB",
    ]


def _traced(action: Callable[[], object]) -> float:
    tracemalloc.start()
    try:
        action()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


if __name__ == "__main__":
    sys.exit(main())
