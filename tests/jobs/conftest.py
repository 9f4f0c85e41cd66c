"""Fixtures of the job queue tests: a small simulated site, projects with GPU-hours, helpers."""

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.models import Organisation, User
from booking.admission.cycle import CycleReport, admission_run, snapshot_cache
from booking.admission.reconcile import ReconcileReport, jobs_reconcile
from booking.cluster.simulator.backend import SimulatorBackend
from booking.ledger.services import ledger_grant
from booking.models import GpuType, Job, Project, ProjectMember, ProjectRole
from tests.factories import AllocationFactory, GpuTypeFactory, ProjectFactory

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SCRIPT = "#!/bin/bash\n# sim: runtime=30m exit=0\npython train.py\n"


@pytest.fixture(autouse=True)
def fresh_state() -> Iterator[None]:
    """Each test starts with a cold snapshot and empty throttle/debounce caches."""
    snapshot_cache.invalidate()
    cache.clear()
    yield
    snapshot_cache.invalidate()
    cache.clear()


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def sim() -> SimulatorBackend:
    return SimulatorBackend()


@pytest.fixture
def h100(db: None, sim: SimulatorBackend) -> GpuType:
    """H100 with 4 nodes of 8 GPUs on the simulated site."""
    gpu_type = GpuTypeFactory.create(name="H100")
    sim.set_partition(gpu_type, nodes=4)
    return gpu_type


def project_for(
    user: User,
    organisation: Organisation,
    gpu_type: GpuType,
    *,
    gpu_hours: int = 1000,
    name: str | None = None,
) -> Project:
    """A project of ``organisation`` with ``user`` as PI and ``gpu_hours`` of ``gpu_type``."""
    project = ProjectFactory.create(organisation=organisation, name=name or f"{user.email}")
    ProjectMember.objects.create(project=project, user=user, role=ProjectRole.PI)
    AllocationFactory(
        project=project, gpu_type=gpu_type, starts_on=date(2020, 1, 1), ends_on=date(2099, 12, 31)
    )
    if gpu_hours:
        ledger_grant(
            project=project,
            gpu_type=gpu_type,
            gpu_hours=Decimal(gpu_hours),
            key=f"grant-{project.pk}-{gpu_type.pk}",
        )
    return project


@pytest.fixture
def alice_project(alice: User, alice_org: Organisation, h100: GpuType) -> Project:
    return project_for(alice, alice_org, h100, name="NorLLM")


@pytest.fixture
def bob_project(bob: User, bob_org: Organisation, h100: GpuType) -> Project:
    return project_for(bob, bob_org, h100, name="Fjord vision")


@pytest.fixture
def charlie_project(charlie: User, charlie_org: Organisation, h100: GpuType) -> Project:
    return project_for(charlie, charlie_org, h100, name="Acme LLM")


def job_body(target: Project, **overrides: Any) -> dict[str, Any]:
    return {
        "project": target.pk,
        "gpu_type": "H100",
        "gpus": 4,
        "walltime_minutes": 120,
        "name": "train",
        "script": SCRIPT,
        "environment": {"EPOCHS": "3"},
    } | overrides


@pytest.fixture
def submit(api: Callable[[User | None], APIClient]) -> Callable[..., Job]:
    """``submit(user, project, **body)``: submit through the API, return the job."""

    def run(user: User, project: Project, **overrides: Any) -> Job:
        response = api(user).post("/api/v1/jobs/", job_body(project, **overrides), format="json")
        assert response.status_code == 201, response.json()
        return Job.objects.get(pk=response.json()["id"])

    return run


def cycle() -> CycleReport:
    report = admission_run()
    assert report is not None
    return report


def reconcile() -> ReconcileReport:
    return jobs_reconcile()


def later(sim: SimulatorBackend, **delta: float) -> None:
    sim.advance(timedelta(**delta))
