"""A finished job's energy: accounted when it ends (through the task), shown on its page and
in its API, and found by the sweep when the task was never queued."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from booking.energy.accounting import energy_sweep
from booking.jobs.settlement import job_finish
from booking.models import EnergyRecord, JobState
from tests.fixtures.energy import at

pytestmark = pytest.mark.usefixtures("energy_site")


@pytest.fixture
def running_job(finished_job):
    job = finished_job("2026-03-10T08:00:00", hours=10, gpus=4)
    job.state, job.ended_at, job.runtime_seconds = JobState.RUNNING, None, None
    job.placement = [[0, 4]]
    job.save()
    return job


def test_a_job_that_ends_is_accounted_by_the_task_after_the_commit(
    running_job, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job_finish(
            job_id=running_job.pk,
            state=JobState.COMPLETED,
            started_at=running_job.started_at,
            ended_at=running_job.started_at + timedelta(hours=5),
            exit_code=0,
            consumed_energy_joules=36_000_000,
        )

    record = EnergyRecord.objects.get(job=running_job)
    assert (record.method, record.it_kwh, record.gpu_hours) == (
        "measured",
        Decimal(10),
        Decimal(20),
    )


def test_the_sweep_accounts_a_job_whose_task_was_never_queued(finished_job):
    job = finished_job("2026-03-10T08:00:00", hours=10, gpus=4)

    first = energy_sweep(now=at("2026-03-20T00:00:00"))
    second = energy_sweep(now=at("2026-03-20T00:00:00"))

    assert first["job_records"] == 1
    assert second["job_records"] == 0
    assert EnergyRecord.objects.get(job=job).it_kwh == Decimal(32)


def test_the_job_page_shows_its_energy_emissions_and_heat(login, alice, finished_job):
    job = finished_job("2026-03-10T08:00:00", hours=10, gpus=4)
    energy_sweep(now=at("2026-03-20T00:00:00"))

    page = login(alice).get(reverse("jobs:job_detail", args=[job.pk])).content.decode()

    assert "Energy and emissions" in page
    assert "38.4 kWh" in page  # facility
    assert "1.498 kg CO2e" in page  # 1.4976 emitted
    assert "15.36 kWh" in page  # heat reused
    assert "Estimated from GPU power" in page


def test_the_job_api_gives_its_energy(api, alice, finished_job):
    job = finished_job("2026-03-31T20:00:00", hours=10, gpus=1)
    energy_sweep(now=at("2026-04-05T00:00:00"))

    body = api(alice).get(f"/api/v1/jobs/{job.pk}/").json()

    assert body["energy"]["method"] == "estimated"
    assert body["energy"]["months"] == ["2026-03-01", "2026-04-01"]
    assert Decimal(body["energy"]["figures"]["it_kwh"]) == Decimal(8)
    assert Decimal(body["energy"]["figures"]["facility_kwh"]) == Decimal("9.6")


def test_the_job_api_says_null_until_the_job_is_accounted(api, alice, finished_job):
    job = finished_job("2026-03-31T20:00:00", hours=10, gpus=1)

    assert api(alice).get(f"/api/v1/jobs/{job.pk}/").json()["energy"] is None


def test_charlie_gets_404_for_alice_s_job_energy(api, charlie, finished_job):
    job = finished_job("2026-03-31T20:00:00", hours=10, gpus=1)
    assert api(charlie).get(f"/api/v1/jobs/{job.pk}/").status_code == 404
