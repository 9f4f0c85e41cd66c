"""My jobs and a job's page: live states, why a job waits, its history and ledger entries,
cancel; another tenant sees none of it."""

import html
import re
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from booking.cluster.simulator.backend import SimulatorBackend
from booking.jobs.services import job_cancel, job_hold
from booking.models import Job, JobState, Project, ProjectMember, ProjectRole
from tests.factories import GpuTypeFactory
from tests.fixtures.jobs import (
    LIST_URL,
    TIMES,
    cycle,
    job_url,
    later,
    project_for,
    queue,
    reconcile,
)
from tests.pages import page_text

pytestmark = pytest.mark.django_db
Login = Callable[[User], Client]


def polls(body: str, job: Job, name: str) -> bool:
    """Whether the page asks htmx to fetch this part of the job again every few seconds."""
    return f'hx-get="{job_url(job, name)}" hx-trigger="every 3s"' in body


# -- my jobs ---------------------------------------------------------------------------------


def test_my_jobs_lists_the_jobs_of_my_projects_newest_first(
    login: Login,
    alice: User,
    alice_project: Project,
    bob: User,
    bob_project: Project,
    clock: time_machine.Traveller,
) -> None:
    queue(alice, alice_project, name="first")
    clock.shift(60)
    queue(alice, alice_project, name="second", gpus=8, walltime_minutes=90)
    queue(bob, bob_project, name="bobs")

    text = page_text(login(alice).get(LIST_URL))

    assert f"second NorLLM 8 {TIMES} H100 1 h 30 min Pending Priority 2026-03-02 09:01 UTC" in text
    assert text.index("second NorLLM") < text.index("first NorLLM")
    assert "bobs" not in text


def test_my_jobs_filter_by_project_state_and_gpu_type(
    login: Login, alice: User, alice_project: Project, alice_org: Any, h100: Any
) -> None:
    other = project_for(alice, alice_org, h100, name="Second")
    GpuTypeFactory.create(name="H200")
    queue(alice, alice_project, name="norllm-job")
    cancelled = queue(alice, other, name="second-job")
    job_cancel(job=cancelled, user=alice)
    client = login(alice)

    by_project = page_text(client.get(LIST_URL, {"project": other.pk}))
    by_state = page_text(client.get(LIST_URL, {"state": "pending"}))
    by_type = page_text(client.get(LIST_URL, {"gpu_type": "H200"}))

    assert "second-job" in by_project
    assert "norllm-job" not in by_project
    assert "norllm-job" in by_state
    assert "second-job" not in by_state
    assert "No job matches these filters." in by_type


def _rows_poll(body: str) -> str | None:
    """The URL the list's rows poll (one request for all of them), if they poll."""
    found = re.search(r'<tbody id="job-rows" hx-get="([^"]+)" hx-trigger="every 5s"', body)
    return html.unescape(found.group(1)) if found else None


def test_a_list_with_a_waiting_job_polls_its_rows_in_one_request(
    login: Login, alice: User, alice_project: Project
) -> None:
    done = queue(alice, alice_project, name="done")
    job_cancel(job=done, user=alice)
    waiting = [queue(alice, alice_project, name=f"waiting-{n}") for n in range(3)]
    client = login(alice)

    body = client.get(LIST_URL).content.decode()

    # Newest first, as the list shows them; the final row is refreshed with the others.
    expected = [*(job.pk for job in reversed(waiting)), done.pk]
    assert _rows_poll(body) == f"{reverse('jobs:job_list_rows')}?" + "&".join(
        f"job={pk}" for pk in expected
    )
    assert body.count('hx-trigger="every 5s"') == 1  # the rows themselves do not poll


def test_a_list_of_final_jobs_does_not_poll(
    login: Login, alice: User, alice_project: Project
) -> None:
    done = queue(alice, alice_project, name="done")
    job_cancel(job=done, user=alice)

    body = login(alice).get(LIST_URL).content.decode()

    assert "done" in body
    assert _rows_poll(body) is None


def test_polled_rows_come_back_refreshed_in_order_and_stop_once_all_are_final(
    login: Login, alice: User, alice_project: Project
) -> None:
    first = queue(alice, alice_project, name="first")
    second = queue(alice, alice_project, name="second")
    client = login(alice)
    url = _rows_poll(client.get(LIST_URL).content.decode())
    assert url is not None

    job_cancel(job=second, user=alice)
    still = client.get(url)
    job_cancel(job=first, user=alice)
    done = client.get(url)

    assert still.status_code == 200
    assert page_text(still).index("second") < page_text(still).index("first")
    assert "second NorLLM" in page_text(still)
    assert "Cancelled" in page_text(still)
    assert "Pending" in page_text(still)
    assert _rows_poll(still.content.decode()) == url
    assert page_text(done).count("Cancelled") == 2
    assert _rows_poll(done.content.decode()) is None


def test_polled_rows_cost_the_same_queries_for_one_row_or_fifty(
    login: Login, alice: User, alice_project: Project
) -> None:
    jobs = [queue(alice, alice_project, name=f"job-{n}") for n in range(50)]
    client = login(alice)
    rows = reverse("jobs:job_list_rows")
    client.get(rows, {"job": jobs[0].pk})

    with CaptureQueriesContext(connection) as one:
        client.get(rows, {"job": jobs[0].pk})
    with CaptureQueriesContext(connection) as fifty:
        response = client.get(rows, {"job": [job.pk for job in jobs]})

    assert page_text(response).count("Pending") == 50
    assert len(fifty.captured_queries) == len(one.captured_queries)


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"job": "²"},
        {"job": "abc"},
        {"job": "9" * 30},
        {"job": "-1"},
        {"job": [str(n) for n in range(1, 52)]},
    ],
)
def test_polled_rows_refuse_what_is_not_a_list_of_job_ids(
    login: Login, alice: User, alice_project: Project, query: dict[str, Any]
) -> None:
    queue(alice, alice_project)

    response = login(alice).get(reverse("jobs:job_list_rows"), query)

    assert response.status_code == 400
    assert "?job=" in response.content.decode()


def test_polled_rows_leave_out_another_tenants_jobs(
    login: Login, alice: User, charlie: User, alice_project: Project
) -> None:
    job = queue(alice, alice_project, name="alices-secret-job")

    response = login(charlie).get(reverse("jobs:job_list_rows"), {"job": job.pk})

    assert response.status_code == 200
    assert "alices-secret-job" not in response.content.decode()
    assert f"job-{job.pk}" not in response.content.decode()
    assert _rows_poll(response.content.decode()) is None


def test_my_jobs_has_an_empty_state_that_says_what_to_do(
    login: Login, alice: User, alice_project: Project, charlie: User
) -> None:
    assert "You have no jobs yet. Submit your first job" in page_text(login(alice).get(LIST_URL))
    assert "you are not in one yet" in page_text(login(charlie).get(LIST_URL))


@pytest.mark.parametrize("jobs", [2, 20])
def test_my_jobs_takes_the_same_number_of_queries_however_many_jobs(
    login: Login,
    alice: User,
    alice_project: Project,
    jobs: int,
    django_assert_max_num_queries: Any,
) -> None:
    for n in range(jobs):
        queue(alice, alice_project, name=f"job-{n}")
    client = login(alice)

    with django_assert_max_num_queries(8):
        response = client.get(LIST_URL, {"project": alice_project.pk})

    assert page_text(response).count(f"NorLLM 4 {TIMES} H100") == jobs


# -- a job's page ----------------------------------------------------------------------------


def test_a_pending_job_says_why_it_waits_its_position_and_estimated_start(
    login: Login, alice: User, alice_project: Project, clock: time_machine.Traveller
) -> None:
    queue(alice, alice_project, name="big", gpus=32, walltime_minutes=600)
    cycle()  # the whole H100 site (4 nodes) is now busy until 19:00
    first = queue(alice, alice_project, name="next")
    second = queue(alice, alice_project, name="after")
    cycle()

    text = page_text(login(alice).get(job_url(second)))

    first.refresh_from_db()
    assert first.reason == "capacity"
    assert "State: Pending" in text
    assert "Why it waits: Jobs ahead of it in the H100 queue go first" in text
    assert "Position in the H100 queue 2" in text
    assert "Estimated start 2026-03-02 19:00 UTC" in text
    assert "Nothing held or charged yet." in text


def test_a_job_first_in_its_queue_waits_only_for_the_next_cycle(
    login: Login, alice: User, alice_project: Project
) -> None:
    queue(alice, alice_project, name="big", gpus=32, walltime_minutes=600)
    cycle()
    job = queue(alice, alice_project)
    cycle()  # it waits for GPUs, first in the queue
    Job.objects.filter(pk=job.pk).update(reason="priority")

    text = page_text(login(alice).get(job_url(job)))

    assert "Why it waits: It is first in the H100 queue: the next admission cycle" in text
    assert "Position in the H100 queue 1 (as of the last admission cycle" in text


def test_a_job_submitted_since_the_last_cycle_says_when_its_position_is_known(
    login: Login, alice: User, alice_project: Project
) -> None:
    job = queue(alice, alice_project)

    text = page_text(login(alice).get(job_url(job)))

    assert (
        "Position in the H100 queue Known within 5 seconds: the next admission cycle places it."
        in text
    )
    assert "Estimated start Known with its position." in text


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("capacity", "Not enough H100 GPUs are free right now."),
        ("budget", "do not cover this job's hold of 8 GPU-hours while other jobs hold hours"),
        ("tier_cap", "International work may use at most 20 % of the H100 GPUs"),
        ("project_limit", "The project's limit on running GPUs is reached."),
        ("project_suspended", "The project is suspended."),
        ("booking_not_started", "Its capacity booking has not started yet."),
    ],
)
def test_each_reason_to_wait_is_said_in_words(
    login: Login, alice: User, alice_project: Project, reason: str, words: str
) -> None:
    job = queue(alice, alice_project)
    Job.objects.filter(pk=job.pk).update(reason=reason)

    assert words in page_text(login(alice).get(job_url(job)))


def test_a_job_held_by_staff_says_so(
    login: Login, alice: User, alice_project: Project, staff: User
) -> None:
    job = queue(alice, alice_project)
    job_hold(job=job, staff=staff, reason="Node maintenance")

    text = page_text(login(alice).get(job_url(job)))

    assert "State: Held" in text
    assert "Held by Stargate staff; their reason is in the history below." in text
    assert "Held by staff: Node maintenance staff@stargate.eu" in text


def test_a_job_page_follows_the_job_to_completion_with_its_ledger_entries(
    login: Login,
    alice: User,
    alice_project: Project,
    sim: SimulatorBackend,
    clock: time_machine.Traveller,
) -> None:
    job = queue(alice, alice_project)
    client = login(alice)
    assert polls(client.get(job_url(job)).content.decode(), job, "job_live")

    cycle()
    admitted = page_text(client.get(job_url(job, "job_live")))
    reconcile()
    running = page_text(client.get(job_url(job, "job_live")))
    later(sim, minutes=31)
    reconcile()
    completed = client.get(job_url(job, "job_live"))

    assert "State: Admitted" in admitted
    assert f"Hold 8 job-{job.uuid}-hold" in admitted
    assert "State: Running" in running
    assert "Started 2026-03-02 09:00 UTC" in running
    assert "Cancel the job" in running
    text = page_text(completed)
    assert "State: Completed" in text
    assert "Runtime 30 min Exit code 0" in text
    assert f"Hold 8 job-{job.uuid}-hold" in text
    assert f"Release -8 job-{job.uuid}-release" in text
    assert f"Charge 2 job-{job.uuid}-charge" in text
    assert "Pending → Admitted" in text
    assert "Running → Completed Completed after 30 min (exit code 0)." in text
    assert "Cancel the job" not in text
    assert "hx-trigger" not in completed.content.decode()  # final: the page stops polling


def test_the_job_page_shows_what_it_runs(login: Login, alice: User, alice_project: Project) -> None:
    job = queue(alice, alice_project, environment={"EPOCHS": "3"})

    text = page_text(login(alice).get(job_url(job)))

    assert "# sim: runtime=30m exit=0" in text
    assert "EPOCHS=3" in text
    assert str(job.uuid) in text


def test_the_submitter_cancels_a_pending_job(
    login: Login, alice: User, alice_project: Project
) -> None:
    job = queue(alice, alice_project)

    response = login(alice).post(job_url(job, "job_cancel"), follow=True)

    job.refresh_from_db()
    assert job.state == JobState.CANCELLED
    text = page_text(response)
    assert "The job is cancelled." in text
    assert "Pending → Cancelled Cancelled by alice@uio.no." in text


def test_cancelling_a_running_job_charges_what_ran(
    login: Login,
    alice: User,
    alice_project: Project,
    sim: SimulatorBackend,
    clock: time_machine.Traveller,
) -> None:
    job = queue(alice, alice_project)
    cycle()
    reconcile()
    later(sim, minutes=15)

    text = page_text(login(alice).post(job_url(job, "job_cancel"), follow=True))

    assert "State: Cancelled" in text
    assert f"Charge 1 job-{job.uuid}-charge" in text


def test_a_plain_member_cannot_cancel_someone_elses_job(
    login: Login, alice: User, bob: User, alice_project: Project
) -> None:
    ProjectMember.objects.create(project=alice_project, user=bob, role=ProjectRole.MEMBER)
    job = queue(alice, alice_project)
    client = login(bob)

    assert "Cancel the job" not in page_text(client.get(job_url(job)))
    response = client.post(job_url(job, "job_cancel"), follow=True)

    assert "Only the submitter, the PI and managers cancel this job." in page_text(response)
    assert Job.objects.get(pk=job.pk).state == JobState.PENDING


def test_cancelling_a_finished_job_says_why_not(
    login: Login, alice: User, alice_project: Project
) -> None:
    job = queue(alice, alice_project)
    job_cancel(job=job, user=alice)

    response = login(alice).post(job_url(job, "job_cancel"), follow=True)

    assert "A Cancelled job cannot be cancelled." in page_text(response)


@pytest.mark.parametrize("name", ["job_detail", "job_live"])
def test_charlie_gets_404_on_alices_job_pages(
    login: Login, alice: User, charlie: User, alice_project: Project, name: str
) -> None:
    job = queue(alice, alice_project)

    assert login(charlie).get(job_url(job, name)).status_code == 404


def test_charlie_gets_404_when_cancelling_alices_job(
    login: Login, alice: User, charlie: User, alice_project: Project
) -> None:
    job = queue(alice, alice_project)

    assert login(charlie).post(job_url(job, "job_cancel")).status_code == 404
    assert Job.objects.get(pk=job.pk).state == JobState.PENDING


def test_job_pages_ask_anonymous_visitors_to_log_in(
    client: Client, alice: User, alice_project: Project
) -> None:
    job = queue(alice, alice_project)

    for url in (LIST_URL, job_url(job), job_url(job, "job_live")):
        assert client.get(url)["Location"].startswith("/accounts/login/")
    assert client.post(job_url(job, "job_cancel"))["Location"].startswith("/accounts/login/")
    assert Job.objects.get(pk=job.pk).state == JobState.PENDING


def test_cancel_takes_only_post(login: Login, alice: User, alice_project: Project) -> None:
    job = queue(alice, alice_project)

    assert login(alice).get(job_url(job, "job_cancel")).status_code == 405


def test_polled_rows_of_a_logged_out_visitor_are_left_as_they_are(
    client: Client, alice: User, alice_project: Project
) -> None:
    job = queue(alice, alice_project)

    rows = f"{reverse('jobs:job_list_rows')}?job={job.pk}"
    response = client.get(rows, HTTP_HX_REQUEST="true")

    assert response.status_code == 204
    assert client.get(rows)["Location"].startswith("/accounts/login/")
