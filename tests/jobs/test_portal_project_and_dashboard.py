"""The jobs section of a project page (running and waiting jobs, burn rate) and of the
dashboard ("My projects and jobs"), both loaded by htmx."""

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from booking.cluster.simulator.backend import SimulatorBackend
from booking.jobs.selectors import project_live_jobs
from booking.ledger.services import ledger_charge
from booking.models import GpuType, Job, Project
from tests.fixtures.jobs import TIMES, cycle, later, queue, reconcile
from tests.pages import page_text

pytestmark = pytest.mark.django_db
Login = Callable[[User], Client]
DASHBOARD_SECTION = reverse("jobs:job_dashboard_section")


def section_url(project: Project) -> str:
    return reverse("jobs:job_project_section", args=[project.pk])


def test_the_project_page_loads_its_jobs_section(
    login: Login, alice: User, alice_project: Project
) -> None:
    body = login(alice).get(reverse("grants:project_detail", args=[alice_project.pk]))

    assert f'hx-get="{section_url(alice_project)}" hx-trigger="load"' in body.content.decode()


def test_the_jobs_section_shows_running_and_waiting_jobs_and_the_burn_rate(
    login: Login,
    alice: User,
    alice_project: Project,
    h100: GpuType,
    sim: SimulatorBackend,
    clock: time_machine.Traveller,
) -> None:
    with time_machine.travel(timezone.now() - timedelta(days=3), tick=False):
        ledger_charge(project=alice_project, gpu_type=h100, gpu_hours=Decimal(40), key="old")
    done = queue(alice, alice_project, name="short")
    cycle()
    reconcile()
    later(sim, minutes=31)
    reconcile()  # "short" ran 30 min on 4 GPUs: 2 GPU-hours charged
    queue(alice, alice_project, name="training", gpus=8)
    cycle()
    reconcile()
    queue(alice, alice_project, name="eval", gpus=32)

    text = page_text(login(alice).get(section_url(alice_project)))

    assert "1 running and 0 admitted, on 8 GPUs · 1 pending · 0 held" in text
    assert f"training 8 {TIMES} H100 Running alice@uio.no" in text
    assert f"eval 32 {TIMES} H100 Pending Priority" in text
    assert text.index("training") < text.index("eval")  # running first
    assert done.name not in text.split("Burn rate")[0]
    # charged 24 h: 2; 7 days: 2 + 40; 2 / 24 h = 0.1 GPUs on average; held: 8 GPUs x 2 h
    assert "H100 2 42 0.1 16" in text


def test_the_jobs_section_of_a_quiet_project_says_what_to_do(
    login: Login, alice: User, alice_project: Project
) -> None:
    text = page_text(login(alice).get(section_url(alice_project)))

    assert "Nothing runs or waits for this project. Submit a job to use its GPU-hours." in text
    assert "Nothing charged in the last 7 days and nothing held now" in text


def test_charlie_gets_404_on_the_jobs_section_of_alices_project(
    login: Login, charlie: User, alice_project: Project
) -> None:
    assert login(charlie).get(section_url(alice_project)).status_code == 404


def test_the_jobs_section_takes_the_same_number_of_queries_however_many_jobs(
    login: Login, alice: User, alice_project: Project, django_assert_max_num_queries: Any
) -> None:
    for n in range(12):
        queue(alice, alice_project, name=f"job-{n}")
    client = login(alice)

    # The burn rate's held hours are the balance's: allocations, checkpoints, entries after.
    # The list: its jobs' keys, then the rows shown. SQLite reads the four parts of the keys
    # one query each (no LIMIT inside a UNION).
    one_query = connection.features.supports_slicing_ordering_in_compound
    with django_assert_max_num_queries(13 if one_query else 16):
        text = page_text(client.get(section_url(alice_project)))

    assert "12 pending" in text
    assert text.count(f"4 {TIMES} H100 Pending") == 10  # the first ten; the list links to all


def test_the_dashboard_loads_my_projects_and_jobs(login: Login, alice: User) -> None:
    body = login(alice).get(reverse("portal:dashboard")).content.decode()

    assert f'hx-get="{DASHBOARD_SECTION}" hx-trigger="load"' in body


def test_the_dashboard_section_counts_the_jobs_of_each_of_my_projects(
    login: Login, alice: User, alice_project: Project, bob: User, bob_project: Project
) -> None:
    queue(alice, alice_project, name="mine", gpus=8)
    cycle()
    queue(alice, alice_project, name="waiting")
    queue(bob, bob_project, name="bobs")

    text = page_text(login(alice).get(DASHBOARD_SECTION))

    assert "NorLLM 1 1 8" in text
    assert "Fjord vision" not in text
    assert "waiting · NorLLM · Pending" in text
    assert "bobs" not in text


def test_the_dashboard_section_without_projects_says_how_to_get_one(
    login: Login, charlie: User
) -> None:
    text = page_text(login(charlie).get(DASHBOARD_SECTION))

    assert "You are not in any project yet, so you cannot run jobs." in text


@pytest.mark.parametrize("limit", [3, 5, 10])
def test_the_live_jobs_are_running_admitted_pending_then_held_each_oldest_first(
    alice: User, alice_project: Project, bob: User, bob_project: Project, limit: int
) -> None:
    """Whatever order the jobs were submitted in, and cut at ``limit`` after the sort (not
    per state); other projects' jobs and finished ones never show."""
    states = ["held", "pending", "running", "completed", "admitted", "pending", "running", "held"]
    jobs = []
    for n, state in enumerate(states):
        job = queue(alice, alice_project, name=f"job-{n}")
        Job.objects.filter(pk=job.pk).update(
            state=state,
            submitted_at=job.submitted_at + timedelta(minutes=10 - n),
            admitted_at=job.submitted_at,
            started_at=job.submitted_at,
            placement=[[0, job.gpus]],
        )
        jobs.append(Job.objects.get(pk=job.pk))
    queue(bob, bob_project, name="bobs")
    rank = {"running": 0, "admitted": 1, "pending": 2, "held": 3}
    expected = sorted(
        (job for job in jobs if job.state in rank),
        key=lambda job: (rank[job.state], job.submitted_at, job.pk),
    )[:limit]

    shown = project_live_jobs(alice_project, limit=limit)

    assert [job.name for job in shown] == [job.name for job in expected]
    assert [job.name for job in shown][:3] == ["job-6", "job-2", "job-4"]
    assert shown[0].gpu_type.name == "H100"
    assert shown[0].submitted_by == alice
