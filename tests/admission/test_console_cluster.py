"""The staff console of the cluster: overview with its chart, the queue and its actions, fair
share, admission cycles. Everyone else gets 403."""

import html
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from booking.admission.console import views as console_views
from booking.admission.console.forms import QueueActionForm
from booking.cluster.simulator.backend import SimulatorBackend
from booking.jobs.services import JOB_REASON_MAX_CHARS, job_hold
from booking.models import ClusterCancel, Job, JobEvent, JobState, Project
from tests.fixtures.jobs import TIMES, cycle, later, project_for, queue, reconcile
from tests.pages import error_is_linked_to_input, field_errors, page_text

pytestmark = pytest.mark.django_db
Login = Callable[[User], Client]
OVERVIEW = reverse("admission_console:cluster_overview")
QUEUE = reverse("admission_console:cluster_queue")
FAIR_SHARE = reverse("admission_console:cluster_fair_share")
CYCLES = reverse("admission_console:cluster_cycles")


def act(
    client: Client, jobs: list[Job], action: str, reason: str = "", url: str = QUEUE, **kw: Any
) -> Any:
    """Tick ``jobs`` on the queue page (at ``url``) and apply ``action`` to them."""
    data = {"action": action, "reason": reason, "jobs": [str(job.pk) for job in jobs]}
    return client.post(url, data, **kw)


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

    assert act(login(alice), [job], action, "mine").status_code == 403
    assert Job.objects.get(pk=job.pk).state == JobState.PENDING
    assert JobEvent.objects.filter(job=job).count() == 1  # submitted, nothing since


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


def test_the_overview_says_when_stopped_jobs_wait_for_the_cluster_to_cancel_them(
    login: Login, staff: User, django_assert_num_queries: Any
) -> None:
    client = login(staff)
    assert "still running on the cluster" not in page_text(client.get(OVERVIEW))
    ClusterCancel.objects.create(key="a.0")
    ClusterCancel.objects.create(key="b.0")
    ClusterCancel.objects.filter(key="a.0").update(
        requested_at=datetime(2026, 3, 2, 9, 15, 0, tzinfo=UTC)
    )

    text = page_text(client.get(OVERVIEW))

    assert (
        "2 jobs stopped here are still running on the cluster, which has not taken their "
        "cancels (the oldest waiting since 2026-03-02 09:15 UTC )."
    ) in text


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
    assert "Act on the ticked jobs Action Choose an action Hold Release Cancel Requeue" in text
    assert running.name in text


def test_the_action_form_posts_with_its_token_the_ticked_jobs_and_the_services_reason_limit(
    staff: User, alice: User, alice_project: Project
) -> None:
    jobs = [queue(alice, alice_project, name=f"to-hold-{n}") for n in range(3)]
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    html = client.get(QUEUE).content.decode()

    form = re.search(r'<form method="post" class="queue-actions".*?</form>', html, re.S)
    assert form is not None
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.group(0))
    reason = re.search(r'<input type="text" name="reason"[^>]*maxlength="(\d+)"', form.group(0))
    ticks = re.findall(r'<input type="checkbox" name="jobs" value="(\d+)"', form.group(0))
    assert token is not None
    assert reason is not None
    assert int(reason.group(1)) == JOB_REASON_MAX_CHARS
    assert ticks == [str(job.pk) for job in jobs]
    response = client.post(
        QUEUE,
        {
            "csrfmiddlewaretoken": token.group(1),
            "action": "hold",
            "reason": "Maintenance",
            "jobs": ticks[:2],
        },
    )

    assert response.status_code == 302
    states = [Job.objects.get(pk=job.pk).state for job in jobs]
    assert states == [JobState.HELD, JobState.HELD, JobState.PENDING]
    assert last_event(jobs[0]).message == "Held by staff: Maintenance"


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
        shown += [job.name for job, _tier in response.context["rows"]]
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
    assert [job.name for job, _tier in back.context["rows"]] == names[25:50]


def test_staff_hold_ticked_jobs_with_a_reason_and_it_is_in_their_history(
    login: Login, staff: User, alice: User, alice_project: Project
) -> None:
    jobs = [queue(alice, alice_project, name=f"job-{n}") for n in range(2)]
    other = queue(alice, alice_project, name="not-ticked")

    response = act(login(staff), jobs, "hold", "Maintenance", url=f"{QUEUE}?tier=1", follow=True)

    assert response.redirect_chain == [(f"{QUEUE}?tier=1", 302)]
    assert "2 jobs are held." in page_text(response)
    for job in jobs:
        job.refresh_from_db()
        assert (job.state, job.reason) == (JobState.HELD, "held_by_staff")
        event = last_event(job)
        assert (event.from_state, event.to_state, event.actor) == ("pending", "held", staff)
        assert event.message == "Held by staff: Maintenance"
    assert Job.objects.get(pk=other.pk).state == JobState.PENDING


@pytest.mark.parametrize("reason", ["", "  "])
def test_holding_without_a_reason_shows_the_error_next_to_the_reason_and_keeps_the_ticks(
    login: Login, staff: User, alice: User, alice_project: Project, reason: str
) -> None:
    jobs = [queue(alice, alice_project, name=f"job-{n}") for n in range(3)]

    response = act(login(staff), jobs[:2], "hold", reason)

    assert response.status_code == 200
    assert field_errors(response, "reason") == ["Say why: the projects see the reason."]
    assert error_is_linked_to_input(response, "reason")
    body = response.content.decode()
    ticked = re.findall(r'name="jobs" value="(\d+)"[^>]*\bchecked\b', body)
    assert ticked == [str(job.pk) for job in jobs[:2]]
    assert '<option value="hold" selected>' in body
    assert {Job.objects.get(pk=job.pk).state for job in jobs} == {JobState.PENDING}
    assert JobEvent.objects.filter(job__in=jobs).count() == 3  # submitted, nothing since


def test_staff_release_a_held_job(
    login: Login, staff: User, alice: User, alice_project: Project
) -> None:
    job = queue(alice, alice_project)
    job_hold(job=job, staff=staff, reason="Maintenance")

    response = act(login(staff), [job], "release", follow=True)

    assert "1 job is back in the queue." in page_text(response)
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

    act(login(staff), [job], "cancel")

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

    response = act(login(staff), [job], "requeue", "Node had a bad GPU", follow=True)

    assert "1 job is queued again as a new attempt." in page_text(response)
    job.refresh_from_db()
    assert (job.state, job.attempt) == (JobState.PENDING, 2)
    event = last_event(job)
    assert (event.from_state, event.to_state) == ("failed", "pending")
    assert event.message == "Requeued by staff as attempt 2: Node had a bad GPU"


def test_jobs_the_state_does_not_allow_are_named_and_the_others_acted_on(
    login: Login, staff: User, alice: User, alice_project: Project
) -> None:
    """Each job by itself, as its service decides: one that is not held (the page was old,
    or another staff member was first) is left as it was and named; the others go on."""
    held = [queue(alice, alice_project, name=f"held-{n}") for n in range(2)]
    for job in held:
        job_hold(job=job, staff=staff, reason="Maintenance")
    pending = queue(alice, alice_project, name="still-pending")

    response = act(login(staff), [held[0], pending, held[1]], "release", follow=True)

    text = page_text(response)
    assert "2 jobs are back in the queue." in text
    assert (
        f"1 job was left as it was: still-pending (#{pending.pk}): Not possible for a Pending job."
        in text
    )
    assert [Job.objects.get(pk=job.pk).state for job in held] == [JobState.PENDING] * 2
    assert last_event(pending).to_state == "pending"
    assert JobEvent.objects.filter(job=pending).count() == 1


def test_refused_jobs_past_the_first_ten_are_counted_not_named(
    login: Login, staff: User, alice: User, alice_project: Project
) -> None:
    jobs = [queue(alice, alice_project, name=f"job-{n:02}") for n in range(12)]

    text = page_text(act(login(staff), jobs, "release", follow=True))

    assert "12 jobs were left as they were:" in text
    assert "job-09 (#" in text
    assert "job-10 (#" not in text
    assert "(and 2 more)" in text
    assert "back in the queue" not in text


@pytest.mark.parametrize(
    ("data", "field", "error"),
    [
        (
            {"action": "delete", "jobs": ["{pk}"]},
            "action",
            "Select a valid choice. delete is not one of the available choices.",
        ),
        ({"action": "", "jobs": ["{pk}"]}, "action", "This field is required."),
        ({"action": "cancel", "jobs": []}, "jobs", "Tick the jobs to act on."),
        ({"action": "cancel", "jobs": ["abc"]}, "jobs", "“abc” is not a valid value."),
        ({"action": "cancel", "jobs": ["9" * 40]}, "jobs", f"“{'9' * 40}” is not a valid value."),
        ({"action": "cancel", "jobs": ["-1"]}, "jobs", "“-1” is not a valid value."),
        (
            {"action": "cancel", "jobs": ["{pk}", "999999"]},
            "jobs",
            "Select a valid choice. 999999 is not one of the available choices.",
        ),
        (
            {"action": "cancel", "jobs": ["{pk}"] * 101},
            "jobs",
            "Act on at most 100 jobs at a time.",
        ),
        (
            {"action": "hold", "jobs": ["{pk}"], "reason": "x" * (JOB_REASON_MAX_CHARS + 1)},
            "reason",
            f"Ensure this value has at most {JOB_REASON_MAX_CHARS} characters"
            f" (it has {JOB_REASON_MAX_CHARS + 1}).",
        ),
    ],
)
def test_a_bad_action_post_is_a_form_error_and_changes_nothing(
    login: Login,
    staff: User,
    alice: User,
    alice_project: Project,
    data: dict[str, Any],
    field: str,
    error: str,
) -> None:
    job = queue(alice, alice_project)
    posted = {
        key: [item.format(pk=job.pk) for item in value] if isinstance(value, list) else value
        for key, value in data.items()
    }

    response = login(staff).post(QUEUE, posted)

    assert response.status_code == 200
    assert field_errors(response, field) == [error]
    assert Job.objects.get(pk=job.pk).state == JobState.PENDING
    assert JobEvent.objects.filter(job=job).count() == 1


def test_after_an_action_staff_go_back_to_the_page_they_came_from(
    login: Login, staff: User, alice: User, alice_project: Project
) -> None:
    job = queue(alice, alice_project)

    response = act(login(staff), [job], "hold", "check", url=f"{QUEUE}?page=2&state=pending")

    assert response["Location"] == f"{QUEUE}?page=2&state=pending"
    assert Job.objects.get(pk=job.pk).state == JobState.HELD


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


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_staff_acting_on_the_same_jobs_at_once_each_job_moves_once(
    alice: User, alice_project: Project, settings: Any
) -> None:
    """One staff member holds the ticked jobs while another cancels them. Cancel takes a held
    job, hold does not take a cancelled one: every job ends cancelled, held at most once
    before, and the hold post counts what it held and names what the other took first."""
    settings.ADMISSION_ON_SUBMIT = False  # the jobs stay pending until the posts
    jobs = [queue(alice, alice_project, name=f"job-{n}") for n in range(6)]
    clients = []
    for email in ("one@stargate.eu", "two@stargate.eu"):
        client = Client()
        client.force_login(User.objects.create_user(email=email, is_staff=True))
        clients.append(client)
    barrier = threading.Barrier(2)
    pages: dict[str, str] = {}

    def post(client: Client, action: str) -> None:
        try:
            barrier.wait()
            pages[action] = page_text(act(client, jobs, action, "race", follow=True))
        finally:
            connection.close()

    threads = [
        threading.Thread(target=post, args=(client, action))
        for client, action in zip(clients, ("hold", "cancel"), strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    moves = [
        list(
            JobEvent.objects.filter(job=job)
            .exclude(from_state="")
            .order_by("at", "pk")
            .values_list("to_state", flat=True)
        )
        for job in jobs
    ]
    assert all(move in (["cancelled"], ["held", "cancelled"]) for move in moves), moves
    assert {Job.objects.get(pk=job.pk).state for job in jobs} == {JobState.CANCELLED}
    assert "6 jobs are cancelled." in pages["cancel"]
    held = sum(move[0] == "held" for move in moves)
    assert (f"{held} job" in pages["hold"]) == (held > 0)
    if held < len(jobs):
        assert f"{len(jobs) - held} job" in pages["hold"]
        assert (
            "A Cancelled job" in pages["hold"]
            or "Not possible for a Cancelled job" in pages["hold"]
        )


def test_the_action_form_drawn_whole_reads_no_job(
    alice: User, alice_project: Project, django_assert_num_queries: Any
) -> None:
    """Its jobs field lists the posted ids only, never the site's jobs as choices."""
    jobs = [queue(alice, alice_project, name=f"job-{n}") for n in range(3)]
    form = QueueActionForm(
        {"action": "cancel", "jobs": [str(jobs[1].pk)]},
        actions={slug: (a.title, a.needs_reason) for slug, a in console_views.ACTIONS.items()},
    )

    with django_assert_num_queries(0):
        html = str(form["jobs"])

    assert html == f'<input type="hidden" name="jobs" value="{jobs[1].pk}" id="id_jobs_0">'


@pytest.mark.django_db(transaction=True)
def test_a_staff_cancel_of_running_jobs_reaches_the_cluster_in_one_call_after_the_commits(
    staff: User,
    alice: User,
    alice_project: Project,
    sim: SimulatorBackend,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each job is cancelled in its own transaction; the cluster hears of the running ones
    once, at the end (a job still pending has nothing to stop there)."""
    settings.ADMISSION_ON_SUBMIT = False
    running = [queue(alice, alice_project, name=f"run-{n}", gpus=2) for n in range(3)]
    cycle()
    reconcile()
    waiting = queue(alice, alice_project, name="waiting")
    calls: list[list[str]] = []
    cancel = SimulatorBackend.cancel

    def heard(backend: SimulatorBackend, keys: Any) -> None:
        calls.append(sorted(keys))
        cancel(backend, keys)

    monkeypatch.setattr(SimulatorBackend, "cancel", heard)
    client = Client()
    client.force_login(staff)

    text = page_text(act(client, [*running, waiting], "cancel", follow=True))

    assert "4 jobs are cancelled." in text
    keys = sorted(Job.objects.get(pk=job.pk).submission_key for job in running)
    assert calls == [keys]
    assert not ClusterCancel.objects.exists()  # the cluster took them: nothing left to send
    assert {found.state.value for found in sim.find(keys).values()} == {"cancelled"}
    assert {Job.objects.get(pk=job.pk).state for job in [*running, waiting]} == {"cancelled"}
