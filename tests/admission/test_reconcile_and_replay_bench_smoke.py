"""The reconcile and replay benchmarks run end to end at a tiny scale and print their figures."""

import argparse

import pytest

from booking.admission.bench_site import build_site
from booking.admission.reconcile_bench import reconcile_figures
from booking.admission.replay_benchmark import run, workload

pytestmark = pytest.mark.django_db


def test_the_reconcile_benchmark_prints_its_figures_at_tiny_scale() -> None:
    build_site(scale=0.002, seed=3)

    printed = "\n".join(reconcile_figures(runs=3, interval=600))

    assert "reconcile with a full answer (every active job): " in printed
    assert "reconcile by changes p50: " in printed


def test_the_replay_workload_is_mostly_small_short_jobs_near_the_asked_load() -> None:
    arrivals = workload(hours=12, gpus=128, load=0.95, seed=11)

    small = [a for a in arrivals if a.gpus <= 4]
    demand = sum(a.gpus * a.runtime_seconds for a in arrivals)
    assert len(small) > 0.9 * len(arrivals)
    assert {a.tier for a in arrivals} == {1, 2, 3, 4}
    assert 0.95 <= demand / (128 * 12 * 3600) < 1.1
    assert all(a.walltime_minutes * 60 >= a.runtime_seconds for a in arrivals)


def test_the_replay_prints_waits_per_tier_and_utilisation(settings: object) -> None:
    settings.SIMULATOR_CLOCK_FROZEN = True  # type: ignore[attr-defined]
    args = argparse.Namespace(
        hours=0.5, nodes=1, load=0.9, step=300.0, seed=5, same_tier=False, strict_order=False
    )

    printed = "\n".join(run(args))

    assert "utilisation while jobs arrive: " in printed
    assert "jobs that never started: 0" in printed
    assert "wait median" in printed
