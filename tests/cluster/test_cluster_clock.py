"""One clock: everything the platform records about the cluster follows ``ClusterBackend.now``,
and the simulator's clock can be frozen and stepped so a replay's own time never leaks in."""

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import Organisation, User
from booking.admission.tasks import admission_cycles_prune
from booking.cluster.simulator.backend import SimulatorBackend
from booking.ledger.services import ledger_hold
from booking.models import AdmissionCycle, Allocation, GpuType, Job, LedgerEntry, Project
from stargate_portal.errors import Conflict
from tests.fixtures.jobs import NOW, job_body, project_for

pytestmark = pytest.mark.django_db


def test_a_frozen_simulator_clock_stands_still_while_wall_time_passes(
    sim: SimulatorBackend, clock: time_machine.Traveller, settings: Any
) -> None:
    settings.SIMULATOR_CLOCK_FROZEN = True
    frozen = sim.now()

    clock.shift(timedelta(minutes=7))

    assert sim.now() == frozen == NOW
    assert sim.advance(timedelta(seconds=300)) == frozen + timedelta(seconds=300)
    clock.shift(timedelta(minutes=7))
    assert sim.now() == frozen + timedelta(seconds=300)


def test_an_unfrozen_clock_runs_on_from_where_it_stood(
    sim: SimulatorBackend, clock: time_machine.Traveller
) -> None:
    sim.freeze()
    sim.advance(timedelta(hours=1))
    clock.shift(timedelta(minutes=30))

    assert sim.unfreeze() == NOW + timedelta(hours=1)
    clock.shift(timedelta(minutes=5))
    assert sim.now() == NOW + timedelta(hours=1, minutes=5)


def test_the_simulator_clock_command_freezes_steps_and_shows_the_clock(
    db: None, clock: time_machine.Traveller
) -> None:
    out = StringIO()
    call_command("simulator_clock", "freeze", stdout=out)
    clock.shift(timedelta(minutes=3))
    call_command("simulator_clock", "step", "90", stdout=out)

    assert out.getvalue().splitlines() == [
        f"{NOW.isoformat()} (frozen)",
        f"{(NOW + timedelta(seconds=90)).isoformat()} (frozen)",
    ]
    with pytest.raises(CommandError, match="seconds"):
        call_command("simulator_clock", "step", "-5")


def test_ledger_entries_are_stamped_with_the_cluster_clock(
    sim: SimulatorBackend, clock: time_machine.Traveller, alice_project: Project, h100: GpuType
) -> None:
    sim.advance(timedelta(days=3))

    movement = ledger_hold(
        project=alice_project, gpu_type=h100, gpu_hours=Decimal(2), key="hold-on-cluster-time"
    )

    assert movement.entry.created_at == NOW + timedelta(days=3)
    assert LedgerEntry.objects.get(pk=movement.entry.pk).created_at == NOW + timedelta(days=3)


def test_job_submission_and_the_ledger_check_allocation_dates_on_the_same_clock(
    alice: User,
    alice_org: Organisation,
    h100: GpuType,
    sim: SimulatorBackend,
    clock: time_machine.Traveller,
    api: Callable[[User | None], Any],
) -> None:
    project = project_for(alice, alice_org, h100)
    Allocation.objects.filter(project=project).update(ends_on=date(2026, 3, 2))  # NOW's day
    sim.advance(timedelta(days=2))  # the cluster is past the allocation's end

    response = api(alice).post("/api/v1/jobs/", job_body(project), format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "allocation_inactive"
    with pytest.raises(Conflict) as refusal:
        ledger_hold(project=project, gpu_type=h100, gpu_hours=Decimal(2), key="late-hold")
    assert refusal.value.code == "allocation_inactive"
    assert not Job.objects.exists()


def test_admission_cycles_are_pruned_by_the_cluster_clock(
    sim: SimulatorBackend, clock: time_machine.Traveller
) -> None:
    now = sim.advance(timedelta(days=30))
    kept = _cycle_at(now - timedelta(days=6))
    _cycle_at(now - timedelta(days=8))

    assert admission_cycles_prune(days=7) == 1

    assert list(AdmissionCycle.objects.values_list("pk", flat=True)) == [kept.pk]


def _cycle_at(started_at: Any) -> AdmissionCycle:
    return AdmissionCycle.objects.create(
        started_at=started_at,
        duration_ms=1,
        snapshot_ms=0,
        policy_ms=0,
        apply_ms=0,
        pending_jobs=0,
        queue_heads=0,
        jobs_examined=0,
        admissions=0,
    )
