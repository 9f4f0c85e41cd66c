"""The live Slurm cluster when things go wrong: a worker dies between sbatch and its commit,
the controller stops and starts again mid-run, a user sends hostile names, environment values
and scripts. Nothing is lost, nothing runs twice, nothing runs on the platform's host."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Organisation, User
from booking.admission import dispatch
from booking.cluster.base import BackendUnavailable
from booking.cluster.slurm import backend as slurm_backend
from booking.cluster.slurm.backend import SlurmBackend
from booking.cluster.slurm.commands import SlurmCommands
from booking.models import ClusterCancel, GpuType, Job, LedgerEntry, Project
from tests.cluster.test_slurm_jobs import job_state, submit_job
from tests.fixtures.jobs import cycle, reconcile
from tests.fixtures.slurm import JOB_PREFIX, LocalSlurm, wait_until

pytestmark = pytest.mark.slurm
QUEUE = reverse("admission_console:cluster_queue")


@pytest.fixture
def alice_slurm_project(
    alice: User,
    alice_org: Organisation,
    h100_type: GpuType,
    a100_type: GpuType,
    provisioned: Callable[..., Project],
) -> Project:
    return provisioned(alice, alice_org, h100_type, a100_type, name="NorLLM")


def test_a_submit_interrupted_after_sbatch_is_found_by_its_key_and_not_sent_again(
    slurm: LocalSlurm,
    alice: User,
    alice_slurm_project: Project,
    api: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job = submit_job(api, alice, alice_slurm_project)
    cycle()

    def killed(*args: Any, **kwargs: Any) -> None:
        raise SystemExit("worker killed between sbatch and the commit")

    with monkeypatch.context() as patch:
        patch.setattr(dispatch, "rows_update", killed)
        with pytest.raises(SystemExit):
            reconcile()
    job.refresh_from_db()
    assert (job.state, job.backend_job_id) == ("admitted", "")  # the commit never happened

    reconcile()

    job.refresh_from_db()
    name = f"{JOB_PREFIX}{job.submission_key}"
    assert slurm.job_ids(name) == {job.backend_job_id}
    job_state(job, "completed")
    assert wait_until(lambda: slurm.sacct(name))
    assert slurm.job_ids(name) == {job.backend_job_id}


def test_slurm_stopped_and_started_during_a_run_loses_nothing_and_duplicates_nothing(
    slurm: LocalSlurm,
    alice: User,
    alice_slurm_project: Project,
    api: Callable[..., Any],
    client: Client,
    settings: Any,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    settings.SLURM_COMMAND_TIMEOUT_SECONDS = 3
    running = submit_job(api, alice, alice_slurm_project, script="#!/bin/bash\nsleep 12\n")
    doomed = submit_job(api, alice, alice_slurm_project, script="#!/bin/bash\nsleep 300\n")
    cycle()
    running, doomed = job_state(running, "running"), job_state(doomed, "running")
    waiting = submit_job(api, alice, alice_slurm_project, gpu_type="A100", gpus=4)
    assert cycle().admitted == [waiting.pk]

    slurm.controller_stop()
    try:
        with pytest.raises(BackendUnavailable):
            reconcile()  # the admitted job cannot be sent: it says so
        waiting.refresh_from_db()
        assert (waiting.state, waiting.reason) == ("admitted", "cluster_unavailable")
        with django_capture_on_commit_callbacks(execute=True):
            assert api(alice).post(f"/api/v1/jobs/{doomed.pk}/cancel/").status_code == 200
        assert ClusterCancel.objects.filter(key=doomed.submission_key).exists()
        assert api(alice).get(f"/api/v1/jobs/{waiting.pk}/").json()["reason"] == (
            "cluster_unavailable"
        )
        health = client.get("/healthz")
        assert (health.status_code, health.json()["status"]) == (200, "degraded")
        assert health.json()["checks"]["cluster"] == "unavailable"
        assert SlurmBackend().capacity()["H100"].usable_gpus == 0  # nothing is admitted blind
    finally:
        slurm.controller_start()

    waiting = wait_until(lambda: _reconciled(waiting, "running", "completed"), timeout=60)
    running = job_state(running, "completed")
    waiting = job_state(waiting, "completed")
    doomed_name = f"{JOB_PREFIX}{doomed.submission_key}"
    assert wait_until(lambda: [row[1] for row in slurm.sacct(doomed_name)] == ["CANCELLED"])
    assert not ClusterCancel.objects.exists()
    for job in (running, doomed, waiting):
        assert len(slurm.job_ids(f"{JOB_PREFIX}{job.submission_key}")) == 1
        entries = LedgerEntry.objects.filter(idempotency_key__startswith=f"job-{job.uuid}-")
        assert entries.count() == 3  # hold, release, charge: settled once
    slurm_backend._health_cache.clear()
    assert client.get("/healthz").json()["status"] == "ok"


@pytest.mark.django_db(transaction=True)
def test_staff_cancel_running_jobs_in_one_squeue_and_scancel_and_wait_once_while_slurm_is_down(
    slurm: LocalSlurm,
    alice: User,
    alice_slurm_project: Project,
    staff: User,
    api: Callable[..., Any],
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The console's cancel of ticked running jobs: one squeue and one scancel for all of
    them; with the controller stopped, one attempt that times out (not one per job, which
    at about 9 s each would outlast a web worker's timeout), every job cancelled in the books
    and kept for Slurm, cancelled there once it is back."""
    settings.ADMISSION_ON_SUBMIT = False
    settings.SLURM_COMMAND_TIMEOUT_SECONDS = 3
    ran: list[str] = []
    run = SlurmCommands.run

    def counted(commands: SlurmCommands, program: str, *args: Any, **kwargs: Any) -> str:
        ran.append(program)
        return run(commands, program, *args, **kwargs)

    sleeper = "#!/bin/bash\nsleep 300\n"
    jobs = [submit_job(api, alice, alice_slurm_project, script=sleeper, gpus=1) for _ in range(4)]
    cycle()
    jobs = [job_state(job, "running") for job in jobs]
    staff_client = Client()
    staff_client.force_login(staff)
    names = [f"{JOB_PREFIX}{job.submission_key}" for job in jobs]
    monkeypatch.setattr(SlurmCommands, "run", counted)

    page = staff_client.post(
        QUEUE, {"action": "cancel", "jobs": [jobs[0].pk, jobs[1].pk]}, follow=True
    )

    assert "2 jobs are cancelled." in page.content.decode()
    assert ran == ["squeue", "scancel"]
    assert not ClusterCancel.objects.exists()  # Slurm took them: nothing left to send
    for name in names[:2]:
        assert wait_until(lambda name=name: [row[1] for row in slurm.sacct(name)] == ["CANCELLED"])

    slurm.controller_stop()
    try:
        SlurmBackend().config.backoff.reset()  # Slurm looked fine until now
        ran.clear()
        page = staff_client.post(
            QUEUE, {"action": "cancel", "jobs": [jobs[2].pk, jobs[3].pk]}, follow=True
        )
        assert "2 jobs are cancelled." in page.content.decode()
        assert ran == ["squeue"]  # timed out after 3 s: the keys are kept
        kept = set(ClusterCancel.objects.values_list("key", flat=True))
        assert kept == {jobs[2].submission_key, jobs[3].submission_key}
        assert {Job.objects.get(pk=job.pk).state for job in jobs} == {"cancelled"}
    finally:
        slurm.controller_start()

    monkeypatch.undo()
    wait_until(lambda: _reconciled(jobs[0], "cancelled"), timeout=60)
    for name in names[2:]:
        assert wait_until(lambda name=name: [row[1] for row in slurm.sacct(name)] == ["CANCELLED"])
    assert not ClusterCancel.objects.exists()


def _reconciled(job: Job, *states: str) -> Job | None:
    try:
        reconcile()
    except BackendUnavailable:
        return None  # the backoff may still be pausing: try again
    job.refresh_from_db()
    return job if job.state in states else None


HOSTILE = [
    "$(touch {marker})",
    "`touch {marker}`",
    "x; touch {marker}",
    "x\ntouch {marker}",
    "'\"; touch {marker}; echo \"'",
]


def test_hostile_names_environment_and_scripts_run_nothing_on_the_platform_host(
    slurm: LocalSlurm,
    alice: User,
    alice_slurm_project: Project,
    api: Callable[..., Any],
    tmp_path: Path,
) -> None:
    markers = [tmp_path / f"pwned-{n}" for n in range(len(HOSTILE))]
    values = [
        pattern.format(marker=marker) for pattern, marker in zip(HOSTILE, markers, strict=True)
    ]
    script = (
        "#!/bin/bash\n"
        "#SBATCH --account=root\n"
        "#SBATCH --gres=gpu:h100:8\n"
        'printf "%s\\n" "$STARGATE_JOB_NAME" "$V0" "$V1" "$V2" "$V3" "$V4"\n'
        "env | grep -c DATABASE_URL || true\n"
    )
    job = submit_job(
        api,
        alice,
        alice_slurm_project,
        name=values[0][:200],
        environment={f"V{n}": value for n, value in enumerate(values)},
        script=script,
    )
    cycle()

    job = job_state(job, "completed")

    output = (slurm.output_dir / f"{job.submission_key}.out").read_text()
    assert output == "\n".join([values[0], *values]) + "\n0\n"
    assert not [marker for marker in markers if marker.exists()]
    name = f"{JOB_PREFIX}{job.submission_key}"
    ((tres, account),) = wait_until(lambda: slurm.sacct(name, "AllocTRES,Account"))
    assert "gres/gpu:h100=2" in tres  # the script's #SBATCH lines were not read
    assert account == f"{slurm.account_prefix}{alice_slurm_project.pk}"


def test_a_container_job_runs_through_the_sites_template_on_the_cluster(
    slurm: LocalSlurm, alice: User, alice_slurm_project: Project, api: Callable[..., Any]
) -> None:
    job = submit_job(
        api,
        alice,
        alice_slurm_project,
        script="",
        container_image="nvcr.io/nvidia/pytorch:24.05-py3",
        command="echo \"image $STARGATE_CONTAINER_IMAGE\"; echo 'args: $(not run)'",
    )
    cycle()

    job = job_state(job, "completed")

    output = (slurm.output_dir / f"{job.submission_key}.out").read_text()
    assert output == "image nvcr.io/nvidia/pytorch:24.05-py3\nargs: $(not run)\n"
