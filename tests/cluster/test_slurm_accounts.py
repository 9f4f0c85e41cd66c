"""Each project's Slurm account, provisioned on the live cluster: created on award with its
GPU-minute safety net, raised on top-up, closed on suspension, unchanged when provisioned
again; by the Celery task the platform's own changes queue, and by the management command."""

import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import Organisation, User
from booking.cluster.base import JobSpec
from booking.cluster.slurm.backend import SlurmBackend
from booking.grants.cluster_accounts import cluster_accounts_sync
from booking.grants.services.decisions import application_award
from booking.grants.services.projects import project_set_state, project_top_up
from booking.models import GpuType, Project, ReviewAssignment
from tests.fixtures.slurm import LocalSlurm, wait_until

pytestmark = pytest.mark.slurm


def association(slurm: LocalSlurm, project: Project) -> dict[str, str]:
    account = f"{slurm.account_prefix}{project.pk}"
    fields = "format=Account,User,ParentName,GrpTRESMins,GrpTRES,GrpJobs,GrpSubmit"
    out = slurm.run("sacctmgr", "-n", "-P", "show", "assoc", f"account={account}", fields)
    rows = [line.split("|") for line in out.splitlines()]
    (own,) = [row for row in rows if not row[1]]
    return {
        "parent": own[2],
        "minutes": own[3],
        "running": own[4],
        "jobs": own[5],
        "submit": own[6],
        "users": ",".join(sorted(row[1] for row in rows if row[1])),
    }


def spec(project: Project, key: str, **overrides: Any) -> JobSpec:
    fields: dict[str, Any] = {
        "key": key,
        "name": "probe",
        "account": str(project.pk),
        "gpu_type": "H100",
        "gpus": 1,
        "walltime_minutes": 1,
        "placement": ((0, 1),),
        "script": "#!/bin/bash\nsleep 60\n",
    }
    return JobSpec(**(fields | overrides))


def test_an_award_creates_the_projects_account_with_its_gpu_minutes_and_the_submit_user(
    slurm: LocalSlurm,
    assignment: ReviewAssignment,
    staff: User,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        award = application_award(
            application=assignment.application,
            staff=staff,
            gpu_hours={"H100": Decimal(100)},
            reason="Excellent.",
            starts_on=timezone.localdate() - timedelta(days=1),
            ends_on=timezone.localdate() + timedelta(days=30),
        )

    found = association(slurm, award.project)
    assert found["parent"] == f"{slurm.account_prefix}arent"
    assert "gres/gpu:h100=6600" in found["minutes"]  # 100 GPU-hours + 10 % margin, in minutes
    assert (found["jobs"], found["submit"], found["users"]) == ("", "", "root")


def test_provisioning_twice_changes_nothing_and_a_top_up_raises_the_safety_net(
    slurm: LocalSlurm,
    alice: User,
    alice_org: Organisation,
    h100_type: GpuType,
    staff: User,
    provisioned: Callable[..., Project],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    project = provisioned(alice, alice_org, h100_type, gpu_hours=10)
    before = association(slurm, project)

    again = cluster_accounts_sync(project_ids=[project.pk])

    assert again.as_dict() == {"created": 0, "updated": 0, "unchanged": 1}
    assert association(slurm, project) == before
    with django_capture_on_commit_callbacks(execute=True):
        project_top_up(
            project=project,
            staff=staff,
            gpu_type=h100_type,
            gpu_hours=Decimal(20),
            reason="More",
            key="top-up-1",
        )
    assert "gres/gpu:h100=1980" in association(slurm, project)["minutes"]  # 30 h x 60 x 1.1


def test_a_suspended_projects_account_cannot_start_new_slurm_jobs(
    slurm: LocalSlurm,
    alice: User,
    alice_org: Organisation,
    h100_type: GpuType,
    staff: User,
    provisioned: Callable[..., Project],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    project = provisioned(alice, alice_org, h100_type)
    backend = SlurmBackend()
    queued_key, new_key = f"probe-{uuid.uuid4()}", f"probe-{uuid.uuid4()}"
    slurm.drain("gpu1")
    slurm.drain("gpu2")
    try:
        queued = backend.submit([spec(project, queued_key)])
        assert queued.accepted  # it waits in Slurm: no H100 node is up
        with django_capture_on_commit_callbacks(execute=True):
            project_set_state(project=project, staff=staff, state="suspended", reason="Audit")

        refused = backend.submit([spec(project, new_key)])

        assert list(refused.rejected) == [new_key]
        assert "policy" in refused.rejected[new_key]
        found = association(slurm, project)
        assert (found["jobs"], found["submit"]) == ("0", "0")
        slurm.resume("gpu1")
        slurm.resume("gpu2")
        assert wait_until(
            lambda: backend.poll([queued_key])[queued_key].backend_reason == "AssocGrpJobsLimit"
        )
        waiting = backend.poll([queued_key])[queued_key]
        assert (waiting.state, waiting.reason) == ("queued", "project_limit")
    finally:
        slurm.resume("gpu1")
        slurm.resume("gpu2")
        backend.cancel([queued_key])


def test_the_management_command_prints_a_dry_run_then_provisions(
    slurm: LocalSlurm, alice: User, alice_org: Organisation, h100_type: GpuType
) -> None:
    from tests.fixtures.jobs import project_for

    project = project_for(alice, alice_org, h100_type, gpu_hours=1)
    account = f"{slurm.account_prefix}{project.pk}"

    dry = StringIO()
    call_command("cluster_accounts_sync", "--dry-run", "--project", str(project.pk), stdout=dry)
    assert f"sacctmgr -i add account {account} parent=" in dry.getvalue()
    assert slurm.run("sacctmgr", "-n", "-P", "show", "account", account) == ""

    out = StringIO()
    call_command("cluster_accounts_sync", "--project", str(project.pk), stdout=out)
    assert out.getvalue() == "1 created, 0 updated, 0 unchanged.\n"
    assert "gres/gpu:h100=66" in association(slurm, project)["minutes"]
