"""The staff console of the cluster: overview with its chart, the queue and its actions, fair
share, admission cycles. Everyone else gets 403."""

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
from booking.admission.console import views as console_views
from booking.cluster.simulator.backend import SimulatorBackend
from booking.jobs.services import JOB_REASON_MAX_CHARS, job_hold
from booking.models import Job, JobEvent, JobState, Project
from tests.fixtures.jobs import TIMES, cycle, later, project_for, queue, reconcile
from tests.pages import error_is_linked_to_input, field_errors, form_errors, page_text

pytestmark = pytest.mark.django_db
Login = Callable[[User], Client]
OVERVIEW = reverse("admission_console:cluster_overview")
QUEUE = reverse("admission_console:cluster_queue")
FAIR_SHARE = reverse("admission_console:cluster_fair_share")
CYCLES = reverse("admission_console:cluster_cycles")


def action_url(job: Job, action: str) -> str:
    return reverse("admission_console:cluster_job_action", args=[job.pk, action])


def first_row(response: Any) -> list[str]:
    """The cells of the first row of the page's table, as text."""
    body = response.content.decode().split("<tbody>", 1)[1].split("</tr>", 1)[0]
    cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", body, re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in cells]


def last_event(job: Job) -> JobEvent:
    return JobEvent.objects.filter(job=job).order_by("-at", "-pk").select_related("actor").first()


# -- access ----------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [OVERVIEW, QUEUE, FAIR_SHARE, CYCLES])
def test_non_staff_get_403_on_the_cluster_pages(login: Login, alice: User, url: str) -> None:
    assert login(alice).get(url).status_code == 403


@pytest.mark.parametrize("action", ["hold", "release", "cancel", "requeue"])
def test_non_staff_get_403_on_the_job_actions_and_change_nothing(
    login: Login, alice: User, alice_project: Project, action: str
) -> None:
    job = queue(alice, alice_project)
    client = login(alice)

    assert client.get(action_url(job, action)).status_code == 403
    assert client.post(action_url(job, action), {"reason": "mine"}).status_code == 403
    assert Job.objects.get(pk=job.pk).state == JobState.PENDING


def test_anonymous_visitors_are_asked_to_log_in(client: Client) -> None:
    assert client.get(OVERVIEW)["Location"].startswith("/accounts/login/")


# -- overview --------------------------------------------------------------------------------


def test_the_overview_shows_capacity_use_and_demand_by_tier_with_a_chart(
    login: Login,
    staff: User,
    alice: User,
    alice_project: Project,
    charlie: User,
    charlie_project: Project,
) -> None:
    queue(alice, alice_project, gpus=16)
    cycle()
    queue(alice, alice_project, gpus=32)
    queue(charlie, charlie_project, gpus=8)

    response = login(staff).get(OVERVIEW)

    text = page_text(response)
    assert "16 of 32 GPUs in use, 16 free; 2 jobs pending." in text
    assert "Last admission cycle: 1 admitted in" in text
    # GPUs, down, in use, free; pending for tiers 1..4; held, admitted, running
    assert (
        "H100 32 0 16 16 1 job (32 GPUs) 0 jobs (0 GPUs) 0 jobs (0 GPUs) 1 job (8 GPUs) 0 1 0"
    ) in text
    body = response.content.decode()
    assert '<svg viewBox="0 0 720' in body
    assert "<title>16 GPUs in use</title>" in body
    assert "<title>European academic: 32 GPUs waiting</title>" in body
    assert "» 32 GPUs waiting" not in body  # within the scale: not clipped
    assert "<script" not in body.split("<main", 1)[1]


def test_the_overview_without_gpus_says_what_to_check(login: Login, staff: User) -> None:
    text = page_text(login(staff).get(OVERVIEW))

    assert "No GPU type yet." in text
    assert "No admission cycle has run yet" in text


# -- queue -----------------------------------------------------------------------------------


def test_the_queue_lists_waiting_and_running_jobs_with_tier_and_actions(
    login: Login,
    staff: User,
    alice: User,
    alice_project: Project,
    charlie: User,
    charlie_project: Project,
) -> None:
    running = queue(alice, alice_project, name="running-job")
    cycle()
    queue(charlie, charlie_project, name="charlies-job")

    text = page_text(login(staff).get(QUEUE))

    assert (
        f"running-job alice@uio.no NorLLM Tier 1 · European academic 4 {TIMES} H100, 2 h Admitted"
        in text
    )
    assert "charlies-job charlie@acme.example Acme LLM Tier 4 · International" in text
    assert "Hold charlies-job" in text
    assert "Cancel running-job" in text
    assert "Reason to Requeue Requeue running-job" in text
    assert running.name in text


def test_a_hold_form_on_the_queue_page_posts_with_its_token_and_the_services_reason_limit(
    staff: User, alice: User, alice_project: Project
) -> None:
    job = queue(alice, alice_project, name="to-hold")
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    html = client.get(QUEUE).content.decode()

    form = re.search(
        rf'<form method="post" action="{action_url(job, "hold")}".*?</form>', html, re.S
    )
    assert form is not None
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.group(0))
    reason = re.search(r'<input type="text" name="reason"[^>]*maxlength="(\d+)"', form.group(0))
    assert token is not None
    assert reason is not None
    assert int(reason.group(1)) == JOB_REASON_MAX_CHARS
    response = client.post(
        action_url(job, "hold"),
        {"csrfmiddlewaretoken": token.group(1), "reason": "Maintenance", "next": QUEUE},
    )

    assert response.status_code == 302
    job.refresh_from_db()
    assert job.state == JobState.HELD
    assert last_event(job).message == "Held by staff: Maintenance"


def test_the_queue_filters_by_gpu_type_state_and_tier(
    login: Login,
    staff: User,
    alice: User,
    alice_project: Project,
    charlie: User,
    charlie_project: Project,
) -> None:
    queue(alice, alice_project, name="alices-job")
    queue(charlie, charlie_project, name="charlies-job")
    done = queue(alice, alice_project, name="cancelled-job")
    done.state = JobState.CANCELLED
    done.save(update_fields=["state"])
    client = login(staff)

    tier_4 = page_text(client.get(QUEUE, {"tier": 4}))
    cancelled = page_text(client.get(QUEUE, {"state": "cancelled"}))
    default = page_text(client.get(QUEUE))
    other_type = page_text(client.get(QUEUE, {"gpu_type": "H100", "state": "running"}))

    assert "charlies-job" in tier_4
    assert "alices-job" not in tier_4
    assert "cancelled-job" in cancelled
    assert "alices-job" not in cancelled
    assert "cancelled-job" not in default
    assert "No job matches these filters." in other_type


@pytest.mark.parametrize("jobs", [3, 30])
def test_the_queue_takes_the_same_number_of_queries_however_many_jobs(
    login: Login,
    staff: User,
    alice: User,
    alice_project: Project,
    jobs: int,
    django_assert_max_num_queries: Any,
) -> None:
    for n in range(jobs):
        queue(alice, alice_project, name=f"job-{n}")
    client = login(staff)

    with django_assert_max_num_queries(9):
        response = client.get(QUEUE, {"tier": 1})

    assert page_text(response).count(f"4 {TIMES} H100, 2 h Pending") == min(jobs, 25)


def test_the_queue_pages_on_by_cursor_past_the_jobs_it_counts(
    login: Login, staff: User, alice: User, alice_project: Project, monkeypatch: Any
) -> None:
    """Past the counted pages a page number would be an offset into the site's whole queue:
    the links carry the position of a job instead (many jobs share a submit time here)."""
    monkeypatch.setattr(console_views, "QUEUE_COUNT_MAX", 25)  # counts 26: pages 1 and 2
    names = [f"job-{n:02}" for n in range(60)]
    for name in names:
        queue(alice, alice_project, name=name)
    client = login(staff)

    shown: list[str] = []
    labels: list[str] = []
    url: str | None = QUEUE
    while url:
        response = client.get(url)
        shown += [job.name for job, _tier, _actions in response.context["rows"]]
        labels.append(response.context["page"].number)
        link = re.search(r'href="([^"]+)" rel="next"', response.content.decode())
        url = QUEUE + html.unescape(link.group(1)) if link else None
        if len(labels) == 2:  # the last page counted links on by cursor
            assert url is not None
            assert "cursor=" in url
            assert "page=" not in url
    last = page_text(response)

    assert shown == names  # oldest first, each once
    assert labels == [1, 2, 3]
    assert "Page 3 of more than 1" in last
    previous = re.search(r'href="([^"]+)" rel="prev"', response.content.decode())
    back = client.get(QUEUE + html.unescape(previous.group(1)))
    assert [job.name for job, _tier, _actions in back.context["rows"]] == names[25:50]


def test_staff_hold_a_pending_job_with_a_reason_and_it_is_in_the_history(
    login: Login, staff: User, alice: User, alice_project: Project
) -> None:
    job = queue(alice, alice_project)

    response = login(staff).post(
        action_url(job, "hold"), {"reason": "Maintenance", "next": f"{QUEUE}?tier=1"}
    )

    assert response["Location"] == f"{QUEUE}?tier=1"
    job.refresh_from_db()
    assert (job.state, job.reason) == (JobState.HELD, "held_by_staff")
    event = last_event(job)
    assert (event.from_state, event.to_state, event.actor) == ("pending", "held", staff)
    assert event.message == "Held by staff: Maintenance"


def test_holding_without_a_reason_shows_the_error_next_to_the_reason(
    login: Login, staff: User, alice: User, alice_project: Project
) -> None:
    job = queue(alice, alice_project)

    response = login(staff).post(action_url(job, "hold"), {"reason": "  "})

    assert response.status_code == 200
    assert field_errors(response, "reason") == ["This field is required."]
    assert error_is_linked_to_input(response, "reason")
    assert Job.objects.get(pk=job.pk).state == JobState.PENDING


def test_staff_release_a_held_job(
    login: Login, staff: User, alice: User, alice_project: Project
) -> None:
    job = queue(alice, alice_project)
    job_hold(job=job, staff=staff, reason="Maintenance")

    response = login(staff).post(action_url(job, "release"), follow=True)

    assert "The job is back in the queue." in page_text(response)
    job.refresh_from_db()
    assert job.state == JobState.PENDING
    event = last_event(job)
    assert (event.from_state, event.to_state, event.message) == (
        "held",
        "pending",
        "Released by staff.",
    )


def test_staff_cancel_a_running_job_and_its_hold_is_settled(
    login: Login,
    staff: User,
    alice: User,
    alice_project: Project,
    sim: SimulatorBackend,
    clock: time_machine.Traveller,
) -> None:
    job = queue(alice, alice_project)
    cycle()
    reconcile()
    later(sim, minutes=15)

    login(staff).post(action_url(job, "cancel"))

    job.refresh_from_db()
    assert (job.state, job.runtime_seconds) == (JobState.CANCELLED, 900)
    event = last_event(job)
    assert (event.from_state, event.to_state, event.actor) == ("running", "cancelled", staff)
    assert "Cancelled by staff@stargate.eu." in event.message
    assert "8.0000 GPU-hours released, 1.0000 charged." in event.message


def test_staff_requeue_a_finished_job_with_a_reason_as_a_new_attempt(
    login: Login,
    staff: User,
    alice: User,
    alice_project: Project,
    sim: SimulatorBackend,
    clock: time_machine.Traveller,
) -> None:
    job = queue(alice, alice_project, script="#!/bin/sh\n# sim: runtime=10m exit=1\n")
    cycle()
    reconcile()
    later(sim, minutes=11)
    reconcile()

    login(staff).post(action_url(job, "requeue"), {"reason": "Node had a bad GPU"})

    job.refresh_from_db()
    assert (job.state, job.attempt) == (JobState.PENDING, 2)
    event = last_event(job)
    assert (event.from_state, event.to_state) == ("failed", "pending")
    assert event.message == "Requeued by staff as attempt 2: Node had a bad GPU"


def test_an_action_the_state_does_not_allow_is_refused_above_the_form(
    login: Login, staff: User, alice: User, alice_project: Project
) -> None:
    job = queue(alice, alice_project)

    response = login(staff).post(action_url(job, "release"))

    assert form_errors(response) == ["Not possible for a Pending job."]
    assert "A Pending job cannot be given “Release”." in page_text(response)
    assert Job.objects.get(pk=job.pk).state == JobState.PENDING


def test_the_action_page_asks_for_the_reason(
    login: Login, staff: User, alice: User, alice_project: Project
) -> None:
    job = queue(alice, alice_project)

    text = page_text(login(staff).get(action_url(job, "hold"), {"next": QUEUE}))

    assert "Hold train" in text
    assert "Reason Shown to the project in the job's history." in text


def test_an_unknown_action_is_404(
    login: Login, staff: User, alice: User, alice_project: Project
) -> None:
    job = queue(alice, alice_project)

    assert login(staff).post(action_url(job, "delete")).status_code == 404


def test_after_an_action_staff_never_leave_the_site(
    login: Login, staff: User, alice: User, alice_project: Project
) -> None:
    job = queue(alice, alice_project)

    response = login(staff).post(action_url(job, "cancel"), {"next": "https://evil.example/"})

    assert response["Location"] == QUEUE


# -- fair share and cycles -------------------------------------------------------------------


def test_fair_share_lists_projects_by_tier_then_decayed_usage_over_allocation(
    login: Login,
    staff: User,
    alice: User,
    alice_project: Project,
    bob: User,
    bob_project: Project,
    charlie_project: Project,
    clock: time_machine.Traveller,
) -> None:
    queue(bob, bob_project, gpus=8, walltime_minutes=600)
    cycle()  # bob's admission adds its hold (80 GPU-hours) to his usage

    text = page_text(login(staff).get(FAIR_SHARE))

    assert "NorLLM University of Oslo Tier 1 · European academic 0.0 1,000 0.0000 0 0" in text
    assert "Fjord vision Fjord AI AS Tier 2 · European startup 80.0 1,000 0.0800 0 8" in text
    assert text.index("NorLLM") < text.index("Fjord vision") < text.index("Acme LLM")


def test_fair_share_usage_decays_with_the_half_life(
    login: Login, staff: User, bob: User, bob_project: Project, clock: time_machine.Traveller
) -> None:
    queue(bob, bob_project, gpus=8, walltime_minutes=600)
    cycle()
    clock.shift(7 * 86_400)  # one half-life

    text = page_text(login(staff).get(FAIR_SHARE, {"tier": 2}))

    assert "Fjord vision Fjord AI AS Tier 2 · European startup 40.0 1,000 0.0400" in text


def test_fair_share_filters_by_tier_and_name(
    login: Login, staff: User, alice_project: Project, charlie_project: Project
) -> None:
    client = login(staff)

    assert "NorLLM" not in page_text(client.get(FAIR_SHARE, {"tier": 4}))
    assert "Acme LLM" not in page_text(client.get(FAIR_SHARE, {"q": "norl"}))
    assert "No project matches these filters." in page_text(client.get(FAIR_SHARE, {"q": "zz"}))


def test_fair_share_takes_the_same_number_of_queries_however_many_projects(
    login: Login,
    staff: User,
    alice: User,
    alice_org: Any,
    h100: Any,
    django_assert_max_num_queries: Any,
) -> None:
    for n in range(30):
        project_for(alice, alice_org, h100, name=f"Project {n:02}")
    client = login(staff)

    with django_assert_max_num_queries(12):  # computing the table (later views: from the cache)
        response = client.get(FAIR_SHARE)

    assert page_text(response).count("University of Oslo Tier 1") == 25
    assert "Page 1 of 2" in page_text(response)
    # The second page holds the rest, in queue order (equal shares: by name), none twice.
    second = page_text(client.get(FAIR_SHARE, {"page": 2}))
    assert "Page 2 of 2" in second
    shown = [f"Project {n:02}" for n in range(30) if f"Project {n:02} " in second]
    assert shown == [f"Project {n:02}" for n in range(25, 30)]
    assert second.index("Project 25") < second.index("Project 29")


def test_the_last_admission_cycles_show_time_duration_and_admissions(
    login: Login,
    staff: User,
    alice: User,
    alice_project: Project,
    clock: time_machine.Traveller,
) -> None:
    queue(alice, alice_project)
    queue(alice, alice_project)
    cycle()

    response = login(staff).get(CYCLES)

    started, duration, parts, *counts, kept_for = first_row(response)
    assert started.startswith("2026-03-02 09:00 UTC")
    assert float(duration) > 0
    assert parts.count("/") == 2  # snapshot / policy / apply
    # pending jobs, queue heads, jobs examined, admissions, skipped
    assert counts == ["2", "1", "2", "2", "0"]
    assert kept_for == "—"  # nothing was blocked


def test_no_cycles_yet_says_how_they_start(login: Login, staff: User) -> None:
    assert "No admission cycle has run yet." in page_text(login(staff).get(CYCLES))


def test_fair_share_is_computed_once_per_cycle_and_minute_then_served_from_the_cache(
    login: Login,
    staff: User,
    bob: User,
    bob_project: Project,
    clock: time_machine.Traveller,
) -> None:
    client = login(staff)
    first = page_text(client.get(FAIR_SHARE, {"tier": 2}))
    assert "Fjord vision Fjord AI AS Tier 2 · European startup 0.0 1,000 0.0000" in first

    queue(bob, bob_project, gpus=8, walltime_minutes=600)
    # Still the kept table (same cycle, same minute): no project-wide reads of the ledger,
    # the usage or the projects' tiers.
    with CaptureQueriesContext(connection) as queries:
        kept = page_text(client.get(FAIR_SHARE, {"tier": 2}))
    read = " ".join(query["sql"] for query in queries.captured_queries)
    assert "booking_ledgerentry" not in read
    assert "booking_fairshareusage" not in read
    assert "booking_organisation" not in read
    assert len(queries.captured_queries) <= 7
    assert "European startup 0.0 1,000 0.0000" in kept
    assert "Figures as of 2026-03-02 09:00:00 UTC" in kept

    cycle()  # a new cycle: bob's admission adds 80 GPU-hours of usage
    assert "European startup 80.0 1,000 0.0800" in page_text(client.get(FAIR_SHARE, {"tier": 2}))

    clock.shift(7 * 86_400)  # one half-life later, without a cycle: recomputed on its age
    text = page_text(client.get(FAIR_SHARE, {"tier": 2, "q": "FJORD"}))
    assert "European startup 40.0 1,000 0.0400" in text
    assert "Figures as of 2026-03-09 09:00:00 UTC" in text


@pytest.mark.parametrize("target", ["-1", "2026-13-45", "jobs:job_list", "queue/?page=2"])
def test_after_an_action_a_next_that_is_no_path_goes_to_the_queue(
    login: Login, staff: User, alice: User, alice_project: Project, target: str
) -> None:
    """Text that is no path of the site ("-1") was read as a view's name: a 500 after the
    job was already held."""
    job = queue(alice, alice_project)

    response = login(staff).post(action_url(job, "hold"), {"next": target, "reason": "check"})

    assert response.status_code == 302
    assert response["Location"] == QUEUE
    assert Job.objects.get(pk=job.pk).state == JobState.HELD


def test_after_an_action_staff_go_back_to_the_page_they_came_from(
    login: Login, staff: User, alice: User, alice_project: Project
) -> None:
    job = queue(alice, alice_project)

    response = login(staff).post(
        action_url(job, "hold"), {"next": f"{QUEUE}?page=2&state=pending", "reason": "check"}
    )

    assert response["Location"] == f"{QUEUE}?page=2&state=pending"
