"""Jobs through the platform's REST API onto the live local Slurm cluster: admitted, queued
with their key, placed on the GPU type's nodes, followed to their end (completed, failed,
timed out, cancelled by the owner or by an administrator, lost to a node failure) and charged
the time Slurm reports."""

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Organisation, User
from booking.cluster.slurm.backend import SlurmBackend
from booking.models import GpuType, Job, LedgerEntry, Project
from booking.scheduler.hours import used_gpu_hours
from tests.fixtures.jobs import cycle, job_url, reconcile
from tests.fixtures.slurm import JOB_PREFIX, LocalSlurm, wait_until

pytestmark = pytest.mark.slurm

QUICK = "#!/bin/bash\nsleep 3\necho done\n"


def job_state(job: Job, *states: str, timeout: float = 60) -> Job:
    """Reconcile until the job is in one of ``states``."""

    def reached() -> Job | None:
        reconcile()
        job.refresh_from_db()
        return job if job.state in states else None

    return wait_until(reached, timeout=timeout, every=0.5)


@pytest.fixture
def alice_slurm_project(
    alice: User,
    alice_org: Organisation,
    h100_type: GpuType,
    a100_type: GpuType,
    provisioned: Callable[..., Project],
) -> Project:
    return provisioned(alice, alice_org, h100_type, a100_type, name="NorLLM")


def submit_job(api: Callable[[User | None], Any], user: User, project: Project, **body: Any) -> Job:
    fields = {
        "project": project.pk,
        "gpu_type": "H100",
        "gpus": 2,
        "walltime_minutes": 5,
        "name": "train",
        "script": QUICK,
    } | body
    response = api(user).post("/api/v1/jobs/", fields, format="json")
    assert response.status_code == 201, response.json()
    return Job.objects.get(pk=response.json()["id"])


def test_a_two_gpu_h100_job_is_queued_with_its_key_runs_and_is_charged_slurms_elapsed_time(
    slurm: LocalSlurm, alice: User, alice_slurm_project: Project, api: Callable[..., Any]
) -> None:
    job = submit_job(api, alice, alice_slurm_project)

    assert cycle().admitted == [job.pk]
    reconcile()

    job.refresh_from_db()
    name = f"{JOB_PREFIX}{job.submission_key}"
    ((slurm_id, _state, _nodes, comment, _reason),) = slurm.squeue(name)
    assert (job.backend_job_id, comment) == (slurm_id, job.submission_key)
    job = job_state(job, "completed")
    ((_id, state, elapsed, tres),) = wait_until(lambda: slurm.sacct(name))
    assert state == "COMPLETED"
    assert "gres/gpu:h100=2" in tres
    assert job.runtime_seconds == int(elapsed)
    charge = LedgerEntry.objects.get(idempotency_key=f"job-{job.uuid}-charge")
    assert charge.gpu_hours == used_gpu_hours(2, int(elapsed)) > Decimal(0)
    response = api(alice).get(f"/api/v1/jobs/{job.pk}/")
    assert response.json()["state"] == "completed"


def test_a_four_gpu_job_of_the_other_type_lands_on_that_types_node(
    slurm: LocalSlurm, alice: User, alice_slurm_project: Project, api: Callable[..., Any]
) -> None:
    job = submit_job(api, alice, alice_slurm_project, gpu_type="A100", gpus=4)

    cycle()
    reconcile()

    job = job_state(job, "running", "completed")
    ((_id, _state, nodes, _comment, _reason),) = slurm.squeue(f"{JOB_PREFIX}{job.submission_key}")
    assert nodes == "gpu3"
    assert SlurmBackend().poll([job.submission_key])[job.submission_key].nodes == ("gpu3",)
    job_state(job, "completed")


def test_the_owner_cancels_a_running_job_and_slurm_stops_it(
    slurm: LocalSlurm,
    alice: User,
    alice_slurm_project: Project,
    api: Callable[..., Any],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    job = submit_job(api, alice, alice_slurm_project, script="#!/bin/bash\nsleep 300\n")
    cycle()
    job = job_state(job, "running")
    started = job.started_at
    assert started is not None
    wait_until(lambda: timezone.now() - started >= timedelta(seconds=2))  # something to charge

    with django_capture_on_commit_callbacks(execute=True):
        response = api(alice).post(f"/api/v1/jobs/{job.pk}/cancel/")

    assert response.status_code == 200, response.json()
    name = f"{JOB_PREFIX}{job.submission_key}"
    assert wait_until(lambda: [row[1] for row in slurm.sacct(name)] == ["CANCELLED"])
    job.refresh_from_db()
    assert job.state == "cancelled"
    charge = LedgerEntry.objects.get(idempotency_key=f"job-{job.uuid}-charge")
    assert charge.gpu_hours == used_gpu_hours(2, job.runtime_seconds or 0) > 0


def test_a_script_that_exits_non_zero_fails_with_its_exit_code(
    slurm: LocalSlurm, alice: User, alice_slurm_project: Project, api: Callable[..., Any]
) -> None:
    job = submit_job(api, alice, alice_slurm_project, script="#!/bin/bash\necho oops >&2\nexit 3\n")
    cycle()

    job = job_state(job, "failed")

    assert (job.exit_code, job.reason) == (3, "")
    assert "exit code 3" in job.events.last().message  # type: ignore[union-attr]
    err = slurm.output_dir / f"{job.submission_key}.err"
    assert err.read_text() == "oops\n"


def test_a_job_past_its_time_limit_is_stopped_by_slurm_and_times_out(
    slurm: LocalSlurm, alice: User, alice_slurm_project: Project, api: Callable[..., Any]
) -> None:
    job = submit_job(
        api, alice, alice_slurm_project, walltime_minutes=1, script="#!/bin/bash\nsleep 600\n"
    )
    cycle()

    job = job_state(job, "timeout", timeout=150)

    name = f"{JOB_PREFIX}{job.submission_key}"
    assert wait_until(lambda: [row[1] for row in slurm.sacct(name)]) == ["TIMEOUT"]
    assert job.runtime_seconds == 60  # charged up to the walltime, never beyond
    assert "walltime" in job.events.last().message  # type: ignore[union-attr]


def test_a_job_an_administrator_cancels_in_slurm_shows_it_in_portal_api_and_history(
    slurm: LocalSlurm,
    alice: User,
    alice_slurm_project: Project,
    api: Callable[..., Any],
    login: Callable[[User], Client],
) -> None:
    job = submit_job(api, alice, alice_slurm_project, script="#!/bin/bash\nsleep 300\n")
    cycle()
    job = job_state(job, "running")

    slurm.run("scancel", job.backend_job_id)

    job = job_state(job, "cancelled")
    body = api(alice).get(f"/api/v1/jobs/{job.pk}/").json()
    assert body["state"] == "cancelled"
    last = job.events.last()
    assert last is not None
    assert (last.reason, last.message.split(" after")[0]) == (
        "cancelled_on_cluster",
        "Cancelled on the cluster",
    )
    page = login(alice).get(job_url(job)).content.decode()
    assert "Cancelled on the cluster after" in page


def test_a_node_failure_ends_its_job_as_failed_with_the_reason(
    slurm: LocalSlurm, alice: User, alice_slurm_project: Project, api: Callable[..., Any]
) -> None:
    job = submit_job(
        api, alice, alice_slurm_project, gpu_type="A100", gpus=4, script="#!/bin/bash\nsleep 300\n"
    )
    cycle()
    job = job_state(job, "running")

    try:
        slurm.run("scontrol", "update", "nodename=gpu3", "state=down", "reason=test-failure")
        job = job_state(job, "failed")
    finally:
        slurm.resume("gpu3")

    assert job.events.last().reason == "node_failure"  # type: ignore[union-attr]
    name = f"{JOB_PREFIX}{job.submission_key}"
    assert wait_until(lambda: [row[1] for row in slurm.sacct(name)]) == ["NODE_FAIL"]


def test_a_drained_node_lowers_capacity_and_jobs_wait_with_a_clear_reason(
    slurm: LocalSlurm, alice: User, alice_slurm_project: Project, api: Callable[..., Any]
) -> None:
    slurm.drain("gpu2")
    try:
        assert SlurmBackend().capacity()["H100"].unavailable == {1}
        jobs = [
            submit_job(api, alice, alice_slurm_project, gpus=8, script="#!/bin/bash\nsleep 30\n")
            for _ in range(2)
        ]

        report = cycle()

        assert report.admitted == [jobs[0].pk]  # 8 free H100 GPUs: never more is sent
        jobs[1].refresh_from_db()
        assert (jobs[1].state, jobs[1].reason) == ("pending", "capacity")
        reconcile()
        jobs[0].refresh_from_db()
        ((_id, _state, nodes, _comment, _reason),) = slurm.squeue(
            f"{JOB_PREFIX}{jobs[0].submission_key}"
        )
        assert nodes in ("", "gpu1")
    finally:
        slurm.resume("gpu2")
    assert SlurmBackend().capacity()["H100"].unavailable == frozenset()
    assert cycle().admitted == [jobs[1].pk]
