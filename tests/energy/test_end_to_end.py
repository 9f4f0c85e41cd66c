"""From submit to energy record through the real admission cycle, the simulated cluster and
reconcile: a job that ends is accounted once, with the energy the cluster measured when it
reports it."""

import dataclasses
from collections.abc import Collection

import pytest

from booking.admission.reconcile import jobs_reconcile
from booking.cluster.base import BackendJob
from booking.cluster.simulator.backend import SimulatorBackend
from booking.models import EnergyRecord, JobState
from tests.fixtures.jobs import cycle, later

pytestmark = pytest.mark.usefixtures("clock")


class MeteredSimulator(SimulatorBackend):
    """The simulator, reporting 1 kWh of measured energy for every finished job."""

    def find(self, keys: Collection[str]) -> dict[str, BackendJob]:
        return {
            key: dataclasses.replace(job, consumed_energy_joules=3_600_000) if job.finished else job
            for key, job in super().find(keys).items()
        }


def run_to_the_end(submit, alice, alice_project, sim, backend, capture):
    job = submit(alice, alice_project, gpus=4, walltime_minutes=60)
    cycle()
    jobs_reconcile(backend=backend)  # started
    later(sim, hours=2)
    with capture(execute=True):
        jobs_reconcile(backend=backend)  # ended: job_ended → the accounting task
    job.refresh_from_db()
    assert job.state == JobState.COMPLETED
    return job


def test_a_job_the_simulator_ran_is_accounted_when_it_ends(
    submit, alice, alice_project, sim, django_capture_on_commit_callbacks
):
    job = run_to_the_end(submit, alice, alice_project, sim, sim, django_capture_on_commit_callbacks)

    record = EnergyRecord.objects.get(job=job)
    assert record.method == "estimated"
    assert record.gpu_hours == job.gpus * job.runtime_seconds / 3600
    assert record.it_kwh == record.gpu_hours * 700 / 1000  # no factors: H100's 700 W


def test_the_energy_the_cluster_measured_is_recorded_as_measured(
    submit, alice, alice_project, sim, django_capture_on_commit_callbacks
):
    job = run_to_the_end(
        submit, alice, alice_project, sim, MeteredSimulator(), django_capture_on_commit_callbacks
    )

    assert job.consumed_energy_joules == 3_600_000
    record = EnergyRecord.objects.get(job=job)
    assert (record.method, record.it_kwh) == ("measured", 1)
