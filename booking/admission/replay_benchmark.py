"""Replay of a synthetic mixed workload through the platform: what the policy does to waits.

Run ``DATABASE_URL=postgres://… python -m booking.admission.replay_benchmark [--hours 12]
[--nodes 16] [--load 0.95] [--same-tier]``. In a scratch database of its own
(``<name>_replay_bench``, dropped at the end) it makes one GPU type of ``--nodes`` 8-GPU nodes,
eight projects of four tiers (two per tier) and a workload of many small short jobs (1-4 GPUs,
minutes to an hour) and some whole-node long ones (8 or 16 GPUs, hours), arriving at random over
``--hours`` so that the demand is ``--load`` of the GPUs. The simulator's clock is frozen and
stepped (``--step`` seconds); at each step the jobs due are submitted (``job_submit``, as the API
does), then one admission cycle and one reconcile run, as the workers would. It prints per tier
the median, p95 and max wait (submission to start) and the GPUs' utilisation while jobs
arrive. ``--same-tier`` gives every project tier 1: the same replay without tiers;
``--strict-order`` submits every job in strict order: each project's jobs start in submit order,
the policy before a project's later jobs could backfill.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from stargate_portal.scratch_databases import postgres_url_or_skip

NODE_GPUS = 8
TIER_SHARE = {1: 0.30, 2: 0.20, 3: 0.20, 4: 0.30}
SMALL_SHARE = 0.95
# (kind, country, founded years ago, verified) of an organisation of each tier.
ORGANISATIONS = {
    1: ("university", "NO", None, True),
    2: ("startup", "FR", 2, True),
    3: ("company", "NL", 30, True),
    4: ("company", "US", 20, True),
}


@dataclass(frozen=True)
class Arrival:
    at_seconds: float
    tier: int
    gpus: int
    runtime_seconds: int
    walltime_minutes: int


def workload(*, hours: float, gpus: int, load: float, seed: int) -> list[Arrival]:
    """Arrivals whose GPU-seconds add up to ``load`` of ``gpus`` over ``hours``."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data
    horizon = hours * 3600
    budget = load * gpus * horizon
    arrivals: list[Arrival] = []
    while budget > 0:
        if rng.random() < SMALL_SHARE:
            size = rng.choice((1, 1, 1, 2, 2, 4))
            runtime = int(rng.uniform(3, 60) * 60)
        else:
            size = rng.choice((8, 8, 8, 16))
            runtime = int(rng.uniform(1.5, 6) * 3600)
        walltime = math.ceil(runtime * rng.uniform(1.1, 2.0) / 60)
        tier = rng.choices(list(TIER_SHARE), weights=list(TIER_SHARE.values()))[0]
        arrivals.append(Arrival(rng.uniform(0, horizon), tier, size, runtime, walltime))
        budget -= size * runtime
    return sorted(arrivals, key=lambda a: a.at_seconds)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--hours", type=float, default=12.0, help="hours over which jobs arrive")
    parser.add_argument("--nodes", type=int, default=16, help="8-GPU nodes of the GPU type")
    parser.add_argument("--load", type=float, default=0.95, help="demand / capacity")
    parser.add_argument("--step", type=float, default=60.0, help="seconds per clock step")
    parser.add_argument("--seed", type=int, default=11, help="random seed of the workload")
    parser.add_argument("--same-tier", action="store_true", help="every project in tier 1")
    parser.add_argument(
        "--strict-order",
        action="store_true",
        help="every job in strict order (each project's jobs FIFO, as before issue 11)",
    )
    args = parser.parse_args(argv)
    url = postgres_url_or_skip("replay benchmark")
    if url is None:
        return 0
    from booking.admission.bench_db import scratch_database

    with scratch_database(url, "replay_bench", SIMULATOR_CLOCK_FROZEN="true"):
        for line in run(args):
            print(line, flush=True)
    return 0


def run(args: argparse.Namespace) -> list[str]:
    """Replay the workload; one line per figure."""
    from booking.admission.cycle import admission_run
    from booking.admission.reconcile import jobs_reconcile
    from booking.cluster.simulator.backend import SimulatorBackend
    from booking.models import FINAL_STATES, AdmissionCycle, Job

    sim = SimulatorBackend()
    arrivals = workload(
        hours=args.hours, gpus=args.nodes * NODE_GPUS, load=args.load, seed=args.seed
    )
    site = _site(args.nodes, same_tier=args.same_tier, sim=sim)
    start = sim.freeze()
    started = time.perf_counter()
    step = timedelta(seconds=args.step)
    due, steps = 0, 0
    limit = start + timedelta(hours=args.hours * 6)
    while sim.now() < limit:
        now = sim.now()
        while due < len(arrivals) and arrivals[due].at_seconds <= (now - start).total_seconds():
            _submit(site, arrivals[due], due, strict_order=args.strict_order)
            due += 1
        admission_run(backend=sim)
        jobs_reconcile(backend=sim)
        steps += 1
        if due == len(arrivals) and not Job.objects.exclude(state__in=FINAL_STATES).exists():
            break
        sim.advance(step)
    elapsed = time.perf_counter() - started
    cycle_ms = sorted(AdmissionCycle.objects.values_list("duration_ms", flat=True))
    lines = [
        f"replay: {len(arrivals)} jobs over {args.hours:g} h on {args.nodes} nodes x "
        f"{NODE_GPUS} GPUs, load {args.load:.0%}, "
        f"{'one tier' if args.same_tier else 'four tiers'}"
        f"{', every job in strict order' if args.strict_order else ''}, "
        f"clock stepped {args.step:g} s "
        f"({steps} steps, {elapsed:.0f} s of real time)",
        f"whole admission cycle in the replay: p50 {_rank(cycle_ms, 0.5):.0f} ms, "
        f"p99 {_rank(cycle_ms, 0.99):.0f} ms",
    ]
    lines += _waits()
    lines.append(_utilisation(args, start))
    return lines


@dataclass
class ReplaySite:
    user: Any
    projects: dict[int, list[Any]]
    """Tier of the workload → its two projects (all of tier 1 with ``--same-tier``)."""


def _site(nodes: int, *, same_tier: bool, sim: Any) -> ReplaySite:
    """One GPU type, two projects per tier with ample GPU-hours."""
    from datetime import date
    from decimal import Decimal

    from django.utils import timezone

    from accounts.models import Organisation, User
    from booking.ledger.services import ledger_grant
    from booking.models import Allocation, GpuType, Project, ProjectMember, ProjectRole

    gpu_type = GpuType.objects.create(name="H100", memory_gb=80, power_watts=700)
    sim.set_partition(gpu_type, nodes=nodes)
    user = User.objects.create_user("replay@example.org", None, full_name="Replay")
    today = date.today()  # noqa: DTZ011 - organisation ages only
    by_tier: dict[int, list[Any]] = {}
    for tier in ORGANISATIONS:
        kind, country, years, verified = ORGANISATIONS[1 if same_tier else tier]
        organisation = Organisation.objects.create(
            name=f"Replay tier {tier}",
            kind=kind,
            country=country,
            founded_on=today.replace(year=today.year - years) if years else None,
            verification_state="verified" if verified else "pending",
            verification_decided_at=timezone.now() if verified else None,
        )
        by_tier[tier] = []
        for index in range(2):
            project = Project.objects.create(
                name=f"Tier {tier} project {index}", organisation=organisation
            )
            ProjectMember.objects.create(project=project, user=user, role=ProjectRole.PI)
            Allocation.objects.create(
                project=project,
                gpu_type=gpu_type,
                starts_on=date(2000, 1, 1),
                ends_on=date(2099, 12, 31),
            )
            ledger_grant(
                project=project,
                gpu_type=gpu_type,
                gpu_hours=Decimal(10**7),
                key=f"replay-grant-{project.pk}",
            )
            by_tier[tier].append(project)
    return ReplaySite(user, by_tier)


def _submit(site: ReplaySite, arrival: Arrival, number: int, *, strict_order: bool) -> None:
    from booking.jobs.services import job_submit

    job_submit(
        user=site.user,
        project=site.projects[arrival.tier][number % 2],
        gpu_type_name="H100",
        gpus=arrival.gpus,
        walltime_minutes=arrival.walltime_minutes,
        name=f"tier{arrival.tier}-{number}",
        script=f"#!/bin/sh\n# sim: runtime={arrival.runtime_seconds}s\n",
        strict_order=strict_order,
    )


def _waits() -> list[str]:
    from booking.models import Job

    waits: dict[int, list[float]] = defaultdict(list)
    never = 0
    for name, submitted, started in Job.objects.values_list("name", "submitted_at", "started_at"):
        tier = int(name.split("-")[0].removeprefix("tier"))
        if started is None:
            never += 1
            continue
        waits[tier].append((started - submitted).total_seconds() / 60)
    lines = []
    for tier in sorted(waits):
        values = sorted(waits[tier])
        lines.append(
            f"tier {tier}: {len(values)} jobs, wait median {statistics.median(values):.1f} min, "
            f"p95 {_rank(values, 0.95):.1f} min, max {max(values):.1f} min"
        )
    lines.append(f"jobs that never started: {never}")
    return lines


def _utilisation(args: argparse.Namespace, start: datetime) -> str:
    """Busy GPU-seconds while jobs arrive, over the GPUs' seconds in that window."""
    from booking.models import Job

    end = start + timedelta(hours=args.hours)
    busy = 0.0
    rows = Job.objects.filter(started_at__isnull=False).values_list(
        "gpus", "started_at", "ended_at"
    )
    for gpus, began, ended in rows:
        stop = min(ended or end, end)
        if began is not None and stop > began:
            busy += gpus * (stop - max(began, start)).total_seconds()
    window = args.nodes * NODE_GPUS * args.hours * 3600
    return f"utilisation while jobs arrive: {busy / window:.1%}"


def _rank(values: Sequence[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)]


if __name__ == "__main__":
    sys.exit(main())
