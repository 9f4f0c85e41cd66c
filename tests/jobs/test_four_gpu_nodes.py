"""GPUs per job follow the GPU type's nodes: on L40S nodes of 4 GPUs a job asks for 1 to 4
GPUs or whole nodes (8, 12 …), and an 8-GPU job runs on two whole nodes, end to end."""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from rest_framework.test import APIClient

from accounts.models import Organisation, User
from booking.cluster.simulator.backend import SimulatorBackend
from booking.models import GpuType, Job, LedgerEntry, Project
from tests.error_shape import assert_error
from tests.factories import GpuTypeFactory
from tests.fixtures.jobs import cycle, job_body, later, project_for, reconcile

pytestmark = pytest.mark.django_db
Api = Callable[[User | None], APIClient]
L40S_NODES = 3


@pytest.fixture
def l40s(db: None, sim: SimulatorBackend) -> GpuType:
    """L40S: 3 nodes of 4 GPUs on the simulated site."""
    gpu_type = GpuTypeFactory.create(name="L40S", memory_gb=48, power_watts=350, gpus_per_node=4)
    sim.set_partition(gpu_type, nodes=L40S_NODES)
    return gpu_type


@pytest.fixture
def l40s_project(alice: User, alice_org: Organisation, l40s: GpuType) -> Project:
    return project_for(alice, alice_org, l40s, name="Vision on L40S")


def submit_l40s(api: Api, user: User, project: Project, gpus: int) -> Any:
    body = job_body(project, gpu_type="L40S", gpus=gpus)
    return api(user).post("/api/v1/jobs/", body, format="json")


def test_the_simulated_partition_has_the_gpu_types_gpus_per_node(
    sim: SimulatorBackend, l40s: GpuType, h100: GpuType
) -> None:
    nodes = sim.capacity()

    assert (nodes["L40S"].nodes, nodes["L40S"].gpus_per_node) == (L40S_NODES, 4)
    assert nodes["H100"].gpus_per_node == 8


@pytest.mark.parametrize("gpus", [1, 2, 3, 4, 8, 12])
def test_up_to_one_node_or_whole_nodes_of_four_gpus_are_accepted(
    api: Api, alice: User, l40s_project: Project, gpus: int
) -> None:
    response = submit_l40s(api, alice, l40s_project, gpus)

    assert response.status_code == 201, response.json()
    assert Job.objects.get().gpus == gpus


@pytest.mark.parametrize("gpus", [5, 6, 7, 10])
def test_more_than_one_node_but_not_whole_nodes_of_four_gpus_is_refused(
    api: Api, alice: User, l40s_project: Project, gpus: int
) -> None:
    body = assert_error(submit_l40s(api, alice, l40s_project, gpus), 400, "invalid_gpus")

    assert "1 to 4 GPUs on one node, or a multiple of 4" in body["message"]
    assert body["details"]["gpus"] == [body["message"]]
    assert not Job.objects.exists()


@pytest.mark.parametrize(("gpus", "status"), [(6, 201), (8, 201), (12, 400), (16, 201)])
def test_the_eight_gpu_type_keeps_its_own_rule(
    api: Api, alice: User, alice_project: Project, gpus: int, status: int
) -> None:
    response = api(alice).post("/api/v1/jobs/", job_body(alice_project, gpus=gpus), format="json")

    assert response.status_code == status, response.json()


def test_an_eight_gpu_job_runs_on_two_whole_four_gpu_nodes_with_exact_ledger_entries(
    api: Api,
    alice: User,
    l40s_project: Project,
    sim: SimulatorBackend,
    clock: time_machine.Traveller,
) -> None:
    response = submit_l40s(api, alice, l40s_project, 8)  # 120 minutes, runs 30 (SCRIPT)
    assert response.status_code == 201, response.json()
    job = Job.objects.get(pk=response.json()["id"])

    assert cycle().admitted == [job.pk]
    job.refresh_from_db()
    nodes = [node for node, _gpus in job.placement_tuple()]
    assert [gpus for _node, gpus in job.placement_tuple()] == [4, 4]
    assert len(set(nodes)) == 2
    assert all(0 <= node < L40S_NODES for node in nodes)

    reconcile()
    job.refresh_from_db()
    assert job.state == "running"
    on_cluster = sim.find([str(job.uuid)])[str(job.uuid)]
    assert on_cluster.state == "running"

    later(sim, minutes=31)
    reconcile()

    job.refresh_from_db()
    assert (job.state, job.runtime_seconds, job.exit_code) == ("completed", 30 * 60, 0)
    hold = Decimal(8 * 120) / 60
    charge = Decimal(8 * 30 * 60) / 3600
    entries = LedgerEntry.objects.filter(idempotency_key__startswith=f"job-{job.uuid}-")
    assert [(e.kind, e.gpu_hours, e.gpu_type.name) for e in entries.order_by("pk")] == [
        ("hold", hold, "L40S"),
        ("release", -hold, "L40S"),
        ("charge", charge, "L40S"),
    ]
