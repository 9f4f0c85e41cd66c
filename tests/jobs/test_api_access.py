"""Who sees and acts on which jobs; lists, filters and the queue overview."""

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from booking.cluster.simulator.backend import SimulatorBackend
from booking.models import GpuType, Job, LedgerEntry, Project
from tests.error_shape import assert_error
from tests.fixtures.jobs import cycle, job_body, project_for, reconcile

pytestmark = pytest.mark.django_db
Api = Callable[[User | None], APIClient]


def test_charlie_gets_404_on_alices_jobs(
    api: Api, alice: User, charlie: User, alice_project: Project, submit: Callable[..., Job]
) -> None:
    job = submit(alice, alice_project)
    client = api(charlie)

    assert_error(client.get(f"/api/v1/jobs/{job.pk}/"), 404, "not_found")
    assert_error(client.post(f"/api/v1/jobs/{job.pk}/cancel/"), 404, "not_found")
    assert client.get("/api/v1/jobs/").json()["count"] == 0
    assert Job.objects.get(pk=job.pk).state == "pending"


def test_anonymous_callers_are_refused(api: Api, alice_project: Project) -> None:
    assert_error(api(None).get("/api/v1/jobs/"), 401, "not_authenticated")
    assert_error(
        api(None).post("/api/v1/jobs/", job_body(alice_project), format="json"),
        401,
        "not_authenticated",
    )


def test_a_project_member_sees_the_projects_jobs_but_only_managers_cancel_others(
    api: Api, alice: User, bob: User, alice_project: Project, submit: Callable[..., Job]
) -> None:
    from booking.models import ProjectMember, ProjectRole

    ProjectMember.objects.create(project=alice_project, user=bob, role=ProjectRole.MEMBER)
    alices = submit(alice, alice_project)
    bobs = submit(bob, alice_project)

    assert api(bob).get(f"/api/v1/jobs/{alices.pk}/").status_code == 200
    assert_error(api(bob).post(f"/api/v1/jobs/{alices.pk}/cancel/"), 403, "permission_denied")
    assert api(alice).post(f"/api/v1/jobs/{bobs.pk}/cancel/").status_code == 200  # the PI


def test_the_list_filters_by_project_state_and_gpu_type(
    api: Api,
    alice: User,
    alice_project: Project,
    alice_org: Any,
    h100: GpuType,
    submit: Callable[..., Job],
) -> None:
    other = project_for(alice, alice_org, h100, name="Second")
    first = submit(alice, alice_project)
    second = submit(alice, other)
    api(alice).post(f"/api/v1/jobs/{first.pk}/cancel/")
    client = api(alice)

    def ids(query: str) -> list[int]:
        return [row["id"] for row in client.get(f"/api/v1/jobs/?{query}").json()["results"]]

    assert ids(f"project={other.pk}") == [second.pk]
    assert ids("state=cancelled") == [first.pk]
    assert sorted(ids("state=cancelled&state=pending")) == sorted([first.pk, second.pk])
    assert ids("gpu_type=h100") == [second.pk, first.pk]
    assert ids("gpu_type=H200") == []
    assert_error(client.get("/api/v1/jobs/?state=lost"), 400, "invalid")


def test_the_job_list_costs_the_same_queries_for_many_jobs(
    api: Api,
    alice: User,
    alice_project: Project,
    submit: Callable[..., Job],
    django_assert_max_num_queries: Any,
) -> None:
    for _ in range(3):
        submit(alice, alice_project)
    client = api(alice)
    with django_assert_max_num_queries(3):
        assert client.get("/api/v1/jobs/").json()["count"] == 3
    for _ in range(20):
        submit(alice, alice_project)
    with django_assert_max_num_queries(3):
        assert client.get("/api/v1/jobs/").json()["count"] == 23


def test_staff_hold_release_and_requeue_jobs(
    api: Api, alice: User, staff: User, alice_project: Project, submit: Callable[..., Job]
) -> None:
    job = submit(alice, alice_project)
    client = api(staff)

    held = client.post(f"/api/v1/staff/jobs/{job.pk}/hold/", {"reason": "Maintenance"})
    assert (held.json()["state"], held.json()["reason"]) == ("held", "held_by_staff")
    assert cycle().admitted == []
    released = client.post(f"/api/v1/staff/jobs/{job.pk}/release/")
    assert (released.json()["state"], released.json()["reason"]) == ("pending", "priority")
    assert cycle().admitted == [job.pk]
    reconcile()

    requeued = client.post(f"/api/v1/staff/jobs/{job.pk}/requeue/", {"reason": "Bad node"})

    assert (requeued.json()["state"], requeued.json()["attempt"]) == ("pending", 2)
    assert requeued.json()["history"][-1]["message"].startswith("Requeued by staff")
    assert cycle().admitted == [job.pk]
    keys = LedgerEntry.objects.filter(idempotency_key__contains=str(job.uuid))
    assert sorted(keys.values_list("idempotency_key", "gpu_hours")) == [
        (f"job-{job.uuid}-a2-hold", Decimal("8.0000")),
        (f"job-{job.uuid}-hold", Decimal("8.0000")),
        (f"job-{job.uuid}-release", Decimal("-8.0000")),
    ]


def test_staff_actions_refuse_the_wrong_state_and_non_staff(
    api: Api, alice: User, staff: User, alice_project: Project, submit: Callable[..., Job]
) -> None:
    job = submit(alice, alice_project)

    assert_error(api(alice).post(f"/api/v1/staff/jobs/{job.pk}/hold/"), 403, "permission_denied")
    assert_error(api(staff).post(f"/api/v1/staff/jobs/{job.pk}/release/"), 409, "invalid_state")
    assert_error(api(staff).post(f"/api/v1/staff/jobs/{job.pk}/requeue/"), 409, "invalid_state")


def test_staff_must_say_why_they_hold_a_job(
    api: Api, alice: User, staff: User, alice_project: Project, submit: Callable[..., Job]
) -> None:
    job = submit(alice, alice_project)

    refused = api(staff).post(f"/api/v1/staff/jobs/{job.pk}/hold/", {"reason": "  "})

    assert_error(refused, 400, "invalid")
    assert "reason" in refused.json()["details"]
    job.refresh_from_db()
    assert job.state == "pending"


def test_the_overview_counts_each_pending_job_once_when_the_cluster_clock_runs_ahead(
    api: Api,
    alice: User,
    charlie: User,
    alice_project: Project,
    sim: SimulatorBackend,
    submit: Callable[..., Job],
) -> None:
    # A simulator five hours ahead of the wall clock: submit times are the cluster's, so a
    # record dated by the wall clock would count the jobs it holds again as "submitted since".
    sim.advance(timedelta(hours=5))
    submit(alice, alice_project, gpus=16)
    submit(alice, alice_project, gpus=16)
    submit(alice, alice_project, gpus=16)  # no room: waits
    cycle()
    submit(alice, alice_project, gpus=8)  # since the record

    (h100,) = api(charlie).get("/api/v1/queue/").json()

    assert h100["jobs"] == {"admitted": {"1": 2}, "pending": {"1": 2}}
    assert h100["gpus"] == {"admitted": {"1": 32}, "pending": {"1": 24}}


def test_the_queue_overview_counts_jobs_and_gpus_by_state_and_tier(
    api: Api,
    alice: User,
    charlie: User,
    alice_project: Project,
    charlie_project: Project,
    submit: Callable[..., Job],
) -> None:
    submit(alice, alice_project, gpus=8)
    submit(charlie, charlie_project, gpus=2)
    cycle()
    submit(alice, alice_project, gpus=16)
    submit(alice, alice_project, gpus=16)

    (h100,) = api(charlie).get("/api/v1/queue/").json()

    assert (h100["gpu_type"], h100["total_gpus"], h100["used_gpus"]) == ("H100", 32, 10)
    assert h100["free_gpus"] == 22
    assert h100["jobs"] == {"admitted": {"1": 1, "4": 1}, "pending": {"1": 2}}
    assert h100["gpus"] == {"admitted": {"1": 8, "4": 2}, "pending": {"1": 32}}
