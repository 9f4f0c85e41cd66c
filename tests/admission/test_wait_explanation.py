"""Why did my job wait: each cycle records, per GPU type, the job it keeps room for and when
that job could start; the API, the job's page and the console's cycle page show it."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import OrganisationKind, User
from booking.admission.tasks import admission_cycles_prune
from booking.models import AdmissionReservation, Job, Project
from tests.admission.test_console_cluster import CYCLES, first_row
from tests.fixtures.jobs import NOW, cycle, job_url, reconcile
from tests.pages import page_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def blocked(
    alice: User,
    bob: User,
    charlie: User,
    alice_project: Project,
    bob_project: Project,
    charlie_project: Project,
    submit: Callable[..., Job],
    clock: time_machine.Traveller,
) -> dict[str, Job]:
    """Charlie runs 24 of 32 GPUs for an hour; Alice's 16-GPU job (tier 1) is kept room for;
    Bob's 8-GPU job (tier 2) would end after it could start, so it waits."""
    running = submit(charlie, charlie_project, gpus=24, walltime_minutes=60)
    cycle()
    reconcile()
    big = submit(alice, alice_project, gpus=16, walltime_minutes=60)
    waiting = submit(bob, bob_project, gpus=8, walltime_minutes=120)
    cycle()
    running.refresh_from_db()
    return {"running": running, "big": big, "waiting": waiting}


def test_the_job_api_says_which_job_of_a_higher_tier_a_waiting_job_waits_for(
    api: Callable[..., Any], bob: User, blocked: dict[str, Job]
) -> None:
    shown = api(bob).get(f"/api/v1/jobs/{blocked['waiting'].pk}/").json()

    explanation = shown["wait_explanation"]
    expected_at = blocked["running"].expected_end
    assert explanation == {
        "reserved_job": blocked["big"].pk,
        "reserved_job_tier": 1,
        "gpus": 16,
        "whole_nodes": 2,
        "expected_at": expected_at.isoformat().replace("+00:00", "Z"),
        "is_this_job": False,
        "message": f"Waiting for job {blocked['big'].pk} of a higher tier, which needs 16 GPUs "
        "on 2 whole nodes; until it starts, only jobs that end before then may start first. "
        f"Expected at {expected_at.isoformat()}.",
    }


def test_the_reserved_job_itself_is_told_room_is_kept_for_it(
    api: Callable[..., Any], alice: User, blocked: dict[str, Job]
) -> None:
    shown = api(alice).get(f"/api/v1/jobs/{blocked['big'].pk}/").json()

    assert shown["wait_explanation"]["is_this_job"] is True
    assert shown["wait_explanation"]["message"].startswith(
        "Room is kept for this job: it waits for 16 GPUs on 2 whole nodes."
    )


def test_a_running_job_has_no_wait_explanation(
    api: Callable[..., Any], charlie: User, blocked: dict[str, Job]
) -> None:
    shown = api(charlie).get(f"/api/v1/jobs/{blocked['running'].pk}/").json()

    assert shown["state"] == "running"
    assert shown["wait_explanation"] is None


def test_the_waiting_job_is_compared_with_the_tier_its_cycle_ordered_it_by(
    api: Callable[..., Any], bob: User, bob_project: Project, blocked: dict[str, Job]
) -> None:
    """Bob's organisation becomes a university after the cycle: until the next cycle the
    queue stays as that cycle ordered it (Bob's job behind a higher tier), and so does the
    explanation, read from the cycle's record without computing a tier."""
    organisation = bob_project.organisation
    organisation.kind = OrganisationKind.UNIVERSITY
    organisation.save()
    with CaptureQueriesContext(connection) as queries:
        shown = api(bob).get(f"/api/v1/jobs/{blocked['waiting'].pk}/").json()

    assert "of a higher tier" in shown["wait_explanation"]["message"]
    assert not [q for q in queries if "accounts_organisation" in q["sql"]]


def test_the_explanation_costs_the_same_queries_whatever_the_queue_length(
    api: Callable[..., Any],
    bob: User,
    bob_project: Project,
    submit: Callable[..., Job],
    blocked: dict[str, Job],
) -> None:
    url = f"/api/v1/jobs/{blocked['waiting'].pk}/"
    client = api(bob)
    with CaptureQueriesContext(connection) as before:
        client.get(url)
    for _ in range(15):
        submit(bob, bob_project, gpus=8, walltime_minutes=120)
    cycle()
    with CaptureQueriesContext(connection) as after:
        assert client.get(url).json()["wait_explanation"]["reserved_job"] == blocked["big"].pk

    explanation_queries = [q for q in after if "admissionreservation" in q["sql"]]
    assert len(explanation_queries) == 1
    assert len(after) == len(before)


def test_the_waiting_job_page_shows_whom_it_waits_for_and_when(
    login: Any, bob: User, blocked: dict[str, Job]
) -> None:
    text = page_text(login(bob).get(job_url(blocked["waiting"])))

    assert (
        f"Waiting for job {blocked['big'].pk} of a higher tier, which needs 16 GPUs on 2 whole "
        "nodes; until it starts, only jobs that end before then may start first. Expected at: "
        "2026-03-02 10:00 UTC"
    ) in text


def test_the_console_cycle_page_shows_the_job_kept_room_for(
    login: Any, staff: User, blocked: dict[str, Job]
) -> None:
    *_cells, kept_for = first_row(login(staff).get(CYCLES))

    assert kept_for == f"H100: job {blocked['big'].pk} (tier 1, 16 GPUs), expected at " + (
        "2026-03-02 10:00 UTC"
    )


def test_reservations_are_pruned_with_their_cycles(
    sim: Any, blocked: dict[str, Job], clock: time_machine.Traveller
) -> None:
    assert AdmissionReservation.objects.count() == 1
    sim.advance(timedelta(days=8))

    admission_cycles_prune(days=7)

    assert not AdmissionReservation.objects.exists()
    assert NOW + timedelta(days=8) == sim.now()


def test_the_job_page_of_a_job_without_reservation_shows_no_explanation(
    login: Any, charlie: User, blocked: dict[str, Job]
) -> None:
    text = page_text(login(charlie).get(reverse("jobs:job_detail", args=[blocked["running"].pk])))

    assert "Waiting for job" not in text
