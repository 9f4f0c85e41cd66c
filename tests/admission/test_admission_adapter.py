"""The admission adapter on real database rows: order, budget, reasons, races, the snapshot."""

import threading
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db import connection

from accounts.models import User
from booking.admission import apply as apply_module
from booking.admission.cycle import admission_run, snapshot_cache
from booking.admission.snapshot import load_site
from booking.cluster.simulator.backend import SimulatorBackend
from booking.grants.services.projects import project_top_up
from booking.jobs.services import job_cancel
from booking.ledger.selectors import balance_of
from booking.models import (
    AdmissionCycle,
    FairShareUsage,
    GpuType,
    Job,
    JobEvent,
    LedgerEntry,
    Project,
    ProjectState,
)
from tests.fixtures.jobs import cycle, project_for, reconcile

pytestmark = pytest.mark.django_db


def state_of(job: Job) -> tuple[str, str]:
    job.refresh_from_db()
    return job.state, job.reason


def test_a_european_academic_job_goes_before_an_earlier_international_one(
    alice: User,
    charlie: User,
    alice_project: Project,
    charlie_project: Project,
    submit: Callable[..., Job],
    clock: time_machine.Traveller,
) -> None:
    international = submit(charlie, charlie_project, gpus=32)
    clock.shift(timedelta(minutes=5))
    academic = submit(alice, alice_project, gpus=32)

    assert cycle().admitted == [academic.pk]

    assert state_of(academic)[0] == "admitted"
    assert state_of(international) == ("pending", "capacity")


def test_within_a_tier_the_project_that_used_less_of_its_allocation_goes_first(
    alice: User,
    alice_org: Any,
    h100: GpuType,
    submit: Callable[..., Job],
    clock: time_machine.Traveller,
) -> None:
    busy = project_for(alice, alice_org, h100, name="Busy")
    quiet = project_for(alice, alice_org, h100, name="Quiet")
    FairShareUsage.objects.create(
        project=busy, decayed_usage_gpu_hours=400.0, as_of=SimulatorBackend().now()
    )
    first = submit(alice, busy, gpus=32)
    second = submit(alice, quiet, gpus=32)

    assert cycle().admitted == [second.pk]
    assert state_of(first) == ("pending", "capacity")


def test_fair_share_usage_decays_with_the_half_life(
    alice: User,
    alice_org: Any,
    h100: GpuType,
    submit: Callable[..., Job],
    clock: time_machine.Traveller,
    sim: SimulatorBackend,
) -> None:
    old = project_for(alice, alice_org, h100, name="Used a lot, long ago")
    recent = project_for(alice, alice_org, h100, name="Used a little, now")
    FairShareUsage.objects.create(
        project=old, decayed_usage_gpu_hours=800.0, as_of=sim.now() - timedelta(days=28)
    )  # four half-lives: 50 h left
    FairShareUsage.objects.create(project=recent, decayed_usage_gpu_hours=100.0, as_of=sim.now())
    first = submit(alice, recent, gpus=32)
    second = submit(alice, old, gpus=32)

    assert cycle().admitted == [second.pk]
    assert state_of(first)[0] == "pending"


def test_admission_holds_gpus_times_walltime_and_counts_it_as_usage(
    alice: User, alice_project: Project, submit: Callable[..., Job], sim: SimulatorBackend
) -> None:
    job = submit(alice, alice_project, gpus=8, walltime_minutes=90)

    cycle()

    hold = LedgerEntry.objects.get(idempotency_key=f"job-{job.uuid}-hold")
    assert (hold.kind, hold.gpu_hours) == ("hold", Decimal("12.0000"))
    balance = balance_of(project=alice_project, gpu_type=job.gpu_type)
    assert (balance.held, balance.available) == (Decimal(12), Decimal(988))
    usage = FairShareUsage.objects.get(project=alice_project)
    assert usage.decayed_usage_gpu_hours == pytest.approx(12.0)


def test_a_job_waits_for_budget_held_by_the_projects_running_jobs(
    alice: User, alice_org: Any, h100: GpuType, submit: Callable[..., Job]
) -> None:
    project = project_for(alice, alice_org, h100, gpu_hours=20)
    running = submit(alice, project, gpus=8, walltime_minutes=120)  # holds 16 of 20 h
    waiting = submit(alice, project, gpus=4, walltime_minutes=120)  # needs 8

    assert cycle().admitted == [running.pk]

    assert state_of(waiting) == ("pending", "budget")
    assert balance_of(project=project, gpu_type=h100).available == Decimal(4)


def test_a_queue_head_that_can_never_get_its_budget_is_held_and_unblocks_the_queue(
    alice: User,
    alice_org: Any,
    h100: GpuType,
    submit: Callable[..., Job],
    sim: SimulatorBackend,
    clock: time_machine.Traveller,
) -> None:
    project = project_for(alice, alice_org, h100, gpu_hours=20)
    full_run = "#!/bin/sh\n# sim: runtime=2h\n"
    first = submit(alice, project, gpus=8, walltime_minutes=120, script=full_run)  # 16 h
    big = submit(alice, project, gpus=5, walltime_minutes=60)  # 5 h: fits 20 h at submit
    small = submit(alice, project, gpus=1, walltime_minutes=60)
    cycle()
    assert state_of(big) == ("pending", "budget")
    reconcile()
    sim.advance(timedelta(hours=2))
    reconcile()  # the first job is charged 16 h: 4 h are left, the big job needs 5

    cycle()

    assert state_of(first)[0] == "completed"
    assert state_of(big) == ("held", "budget_exhausted")
    assert JobEvent.objects.filter(job=big, to_state="held").exists()
    cycle()
    assert state_of(small)[0] == "admitted"


def test_a_top_up_puts_jobs_held_for_budget_back_in_the_queue(
    alice: User,
    alice_org: Any,
    staff: User,
    h100: GpuType,
    submit: Callable[..., Job],
    sim: SimulatorBackend,
    clock: time_machine.Traveller,
) -> None:
    project = project_for(alice, alice_org, h100, gpu_hours=20)
    first = submit(
        alice, project, gpus=8, walltime_minutes=120, script="#!/bin/sh\n# sim: runtime=2h\n"
    )
    big = submit(alice, project, gpus=5, walltime_minutes=60)
    cycle()
    reconcile()
    sim.advance(timedelta(hours=2))
    reconcile()
    cycle()
    assert state_of(first)[0] == "completed"
    assert state_of(big) == ("held", "budget_exhausted")

    project_top_up(
        project=project,
        staff=staff,
        gpu_type=h100,
        gpu_hours=Decimal(10),
        reason="More hours",
        key="top-up-1",
    )

    assert state_of(big) == ("pending", "priority")
    cycle()
    assert state_of(big)[0] == "admitted"


def test_jobs_of_a_suspended_project_wait_with_that_reason(
    alice: User, alice_project: Project, submit: Callable[..., Job]
) -> None:
    job = submit(alice, alice_project)
    Project.objects.filter(pk=alice_project.pk).update(state=ProjectState.SUSPENDED)

    assert cycle().admitted == []
    assert state_of(job) == ("pending", "project_suspended")


def test_a_job_cancelled_while_the_cycle_runs_is_skipped(
    alice: User,
    alice_project: Project,
    submit: Callable[..., Job],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job = submit(alice, alice_project)
    other = submit(alice, alice_project)
    original = apply_module.apply_decisions

    def cancel_first(**kwargs: Any) -> Any:
        job_cancel(job=job, user=alice)  # the user clicks "cancel" after the policy decided
        return original(**kwargs)

    monkeypatch.setattr("booking.admission.cycle.apply_decisions", cancel_first)
    report = cycle()

    assert (report.admitted, report.skipped) == ([other.pk], 1)
    assert state_of(job)[0] == "cancelled"
    assert not LedgerEntry.objects.filter(idempotency_key=f"job-{job.uuid}-hold").exists()
    assert AdmissionCycle.objects.get().skipped == 1


def test_every_pending_job_shows_why_it_waits_and_the_blocked_one_its_reservation(
    api: Callable[..., Any],
    alice: User,
    bob: User,
    alice_project: Project,
    bob_project: Project,
    submit: Callable[..., Job],
    clock: time_machine.Traveller,
) -> None:
    running = submit(bob, bob_project, gpus=24, walltime_minutes=60)
    cycle()
    big = submit(alice, alice_project, gpus=16, walltime_minutes=60)
    # Strict order: it would fit before the big job could start, yet stays behind it.
    behind = submit(alice, alice_project, gpus=1, walltime_minutes=60, strict_order=True)
    small = submit(bob, bob_project, gpus=8, walltime_minutes=30)  # backfills: ends first

    report = cycle()

    assert report.admitted == [small.pk]
    assert state_of(big) == ("pending", "capacity")
    assert state_of(behind) == ("pending", "priority")
    shown = api(alice).get(f"/api/v1/jobs/{big.pk}/").json()
    running.refresh_from_db()
    assert running.expected_end is not None
    assert shown["estimated_start"] == running.expected_end.isoformat().replace("+00:00", "Z")
    assert shown["queue_position"] == 1
    behind_shown = api(alice).get(f"/api/v1/jobs/{behind.pk}/").json()
    assert behind_shown["queue_position"] == 2
    assert behind_shown["estimated_start"] is not None


def test_the_snapshot_kept_between_cycles_matches_a_fresh_load(
    alice: User,
    bob: User,
    charlie: User,
    alice_project: Project,
    bob_project: Project,
    charlie_project: Project,
    submit: Callable[..., Job],
    sim: SimulatorBackend,
    clock: time_machine.Traveller,
) -> None:
    projects = [(alice, alice_project), (bob, bob_project), (charlie, charlie_project)]
    jobs = [submit(u, p, gpus=g, walltime_minutes=60) for u, p in projects for g in (1, 4, 8)]
    cycle()
    reconcile()
    job_cancel(job=jobs[-1], user=charlie)
    sim.advance(timedelta(minutes=40))  # every job's script ends after 30 min
    reconcile()
    for user, project in projects:
        submit(user, project, gpus=2)
    assert not cycle().full_reload

    kept, full = snapshot_cache.refresh(sim.capacity())  # what the next cycle starts from
    fresh = load_site(sim.capacity())
    assert not full
    assert sorted(kept.pending._jobs) == sorted(fresh.pending._jobs)
    assert kept.capacity["H100"].pool.free == fresh.capacity["H100"].pool.free
    assert kept.running_gpus() == fresh.running_gpus()


def test_the_snapshot_reloads_when_the_nodes_change(
    alice: User, alice_project: Project, submit: Callable[..., Job], sim: SimulatorBackend
) -> None:
    submit(alice, alice_project)
    assert cycle().full_reload
    assert not cycle().full_reload

    sim.fail_node("H100", 3)

    assert cycle().full_reload


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_only_one_cycle_runs_at_a_time(alice_project: Project) -> None:
    holding, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        from booking.admission.lock import cycle_lock

        with cycle_lock() as acquired:
            assert acquired
            holding.set()
            release.wait(10)
        connection.close()

    thread = threading.Thread(target=hold_the_lock)
    thread.start()
    holding.wait(10)
    try:
        assert admission_run() is None
    finally:
        release.set()
        thread.join()
    assert admission_run() is not None


def test_a_snapshot_catching_up_frees_gpus_before_it_takes_them(
    alice: User,
    charlie: User,
    alice_project: Project,
    charlie_project: Project,
    submit: Callable[..., Job],
    sim: SimulatorBackend,
    h100: GpuType,
    clock: time_machine.Traveller,
) -> None:
    """Another worker's snapshot sees, in one batch, a job end and an older job start on the
    same node: the end must be applied first, whatever the order of the job ids."""
    from booking.admission.snapshot import SnapshotCache

    sim.set_partition(h100, nodes=1)
    older = submit(charlie, charlie_project, gpus=8)  # tier 4: waits behind the newer one
    newer = submit(alice, alice_project, gpus=8)
    assert cycle().admitted == [newer.pk]
    reconcile()
    other_worker = SnapshotCache()
    other_worker.refresh(sim.capacity())
    sim.advance(timedelta(minutes=31))
    reconcile()
    assert cycle().admitted == [older.pk]

    site, full = other_worker.refresh(sim.capacity())

    assert not full
    assert site.capacity["H100"].pool.free == [0]
    assert site.capacity["H100"].pool.free == load_site(sim.capacity()).capacity["H100"].pool.free


def test_the_tier_cap_counts_running_gpus_of_a_capped_project_with_nothing_pending(
    alice: User,
    charlie: User,
    charlie_org: Any,
    alice_project: Project,
    charlie_project: Project,
    h100: GpuType,
    submit: Callable[..., Job],
    settings: Any,
    clock: time_machine.Traveller,
) -> None:
    settings.ADMISSION_TIER_CAPS = {4: 0.25}  # 8 of the 32 H100 GPUs
    running = submit(charlie, charlie_project, gpus=8)
    assert cycle().admitted == [running.pk]
    reconcile()
    second_project = project_for(charlie, charlie_org, h100, name="Acme vision")
    blocked = submit(alice, alice_project, gpus=32)
    international = submit(charlie, second_project, gpus=4)

    assert cycle().admitted == []

    assert state_of(blocked) == ("pending", "capacity")
    assert state_of(international) == ("pending", "tier_cap")


def test_a_later_job_of_a_blocked_project_backfills_unless_it_asks_for_strict_order(
    alice: User,
    charlie: User,
    alice_project: Project,
    charlie_project: Project,
    submit: Callable[..., Job],
    clock: time_machine.Traveller,
) -> None:
    busy = submit(charlie, charlie_project, gpus=8, walltime_minutes=240)
    assert cycle().admitted == [busy.pk]
    reconcile()
    big = submit(alice, alice_project, gpus=32, walltime_minutes=60)
    strict = submit(alice, alice_project, gpus=1, walltime_minutes=30, strict_order=True)
    short = submit(alice, alice_project, gpus=1, walltime_minutes=30)

    response_body = cycle()

    assert response_body.admitted == [short.pk]
    assert state_of(big) == ("pending", "capacity")
    assert state_of(strict) == ("pending", "priority")
    assert Job.objects.get(pk=strict.pk).strict_order is True
