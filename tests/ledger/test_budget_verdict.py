"""The budget verdict: the submit service, the portal's budget preview and the admission cycle
give the same answer for a job's hold, at every boundary of the balance.

The project's H100 ledger in most cases: 50 granted, 15 held by another job, 10 charged, so
25 GPU-hours are available now and 40 are not yet charged.
"""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import Organisation, User
from booking.ledger.budget import BudgetVerdict, budget_verdict
from booking.ledger.selectors import balance_of
from booking.ledger.services import ledger_charge, ledger_grant, ledger_hold
from booking.models import GpuType, Job, JobEvent, LedgerEntry, Project
from tests.error_shape import assert_error
from tests.fixtures.jobs import cycle, job_body, project_for, queue
from tests.pages import page_text

pytestmark = pytest.mark.django_db
Api = Callable[[User | None], APIClient]
Login = Callable[[User], Client]
BUDGET_URL = reverse("jobs:job_budget")

HEADLINES = {
    BudgetVerdict.FITS: "Within budget.",
    BudgetVerdict.WAITS: "Would exceed the available balance.",
    BudgetVerdict.REFUSED: "Would exceed the allocation.",
}


@dataclass(frozen=True)
class Ledger:
    """What the project's H100 ledger holds before the job is submitted."""

    granted: str = "50"
    held_by_others: str = "15"
    charged: str = "10"


def hours_of(gpus: int, walltime_minutes: int) -> Decimal:
    """gpus x walltime in GPU-hours, to the ledger's four decimals."""
    return (Decimal(gpus * walltime_minutes) / 60).quantize(Decimal("0.0001"))


def budget_project(
    user: User, organisation: Organisation, h100: GpuType, ledger: Ledger
) -> Project:
    project = project_for(user, organisation, h100, gpu_hours=0, name="Budget")
    figures: dict[str, Any] = {"project": project, "gpu_type": h100}
    ledger_grant(**figures, gpu_hours=Decimal(ledger.granted), key="granted")
    if Decimal(ledger.held_by_others):
        ledger_hold(**figures, gpu_hours=Decimal(ledger.held_by_others), key="another-jobs-hold")
    ledger_charge(**figures, gpu_hours=Decimal(ledger.charged), key="charged-earlier")
    return project


BOUNDARIES = [
    pytest.param(1, 1499, Ledger(), BudgetVerdict.FITS, id="hold-below-available"),
    pytest.param(4, 375, Ledger(), BudgetVerdict.FITS, id="hold-equal-to-available"),
    pytest.param(1, 1501, Ledger(), BudgetVerdict.WAITS, id="one-gpu-minute-above-available"),
    pytest.param(8, 300, Ledger(), BudgetVerdict.WAITS, id="hold-equal-to-unspent"),
    pytest.param(1, 2401, Ledger(), BudgetVerdict.REFUSED, id="one-gpu-minute-above-unspent"),
    pytest.param(
        1,
        20,
        Ledger(granted="10.3333", held_by_others="0", charged="10"),
        BudgetVerdict.FITS,
        id="a-third-of-an-hour-equal-to-all-that-is-left",
    ),
    pytest.param(
        1,
        20,
        Ledger(charged="34.6667"),
        BudgetVerdict.FITS,
        id="a-third-of-an-hour-equal-to-available-beside-other-holds",
    ),
]


@pytest.mark.parametrize(("gpus", "walltime_minutes", "ledger", "verdict"), BOUNDARIES)
def test_submit_preview_and_cycle_agree_on_whether_a_hold_fits_waits_or_is_refused(
    api: Api,
    login: Login,
    alice: User,
    alice_org: Organisation,
    h100: GpuType,
    clock: time_machine.Traveller,
    gpus: int,
    walltime_minutes: int,
    ledger: Ledger,
    verdict: BudgetVerdict,
) -> None:
    project = budget_project(alice, alice_org, h100, ledger)
    hold = hours_of(gpus, walltime_minutes)
    balance = balance_of(project=project, gpu_type=h100)
    granted, charged = Decimal(ledger.granted), Decimal(ledger.charged)
    assert balance.unspent == granted - charged
    assert balance.available == granted - charged - Decimal(ledger.held_by_others)

    assert budget_verdict(hold_gpu_hours=hold, balance=balance) == verdict

    params: dict[str, Any] = {"project": project.pk, "gpu_type": "H100", "gpus": gpus}
    preview = login(alice).get(BUDGET_URL, params | {"walltime": f"{walltime_minutes}m"})
    assert f"budget__verdict--{verdict}" in preview.content.decode()
    assert HEADLINES[verdict] in page_text(preview)
    others = set(HEADLINES.values()) - {HEADLINES[verdict]}
    assert not any(headline in page_text(preview) for headline in others)

    body = job_body(project, gpus=gpus, walltime_minutes=walltime_minutes)
    response = api(alice).post("/api/v1/jobs/", body, format="json")
    if verdict == BudgetVerdict.REFUSED:
        error = assert_error(response, 409, "budget_exhausted")
        assert Decimal(error["details"]["hold_gpu_hours"]) == hold
        assert Decimal(error["details"]["unspent_gpu_hours"]) == granted - charged
        assert not Job.objects.exists()
        return
    assert response.status_code == 201, response.json()
    job = Job.objects.get(pk=response.json()["id"])

    report = cycle()

    job.refresh_from_db()
    if verdict == BudgetVerdict.FITS:
        assert report.admitted == [job.pk]
        assert job.state == "admitted"
        held = LedgerEntry.objects.get(idempotency_key=f"job-{job.uuid}-hold")
        assert held.gpu_hours == hold
    else:
        assert report.admitted == []
        assert (job.state, job.reason) == ("pending", "budget")
        assert not LedgerEntry.objects.filter(
            idempotency_key__startswith=f"job-{job.uuid}"
        ).exists()


@pytest.mark.parametrize(
    ("walltime_minutes", "state", "reason"),
    [
        pytest.param(2400, "pending", "budget", id="hold-equal-to-what-is-left-waits"),
        pytest.param(2401, "held", "budget_exhausted", id="hold-above-what-is-left-is-held"),
    ],
)
def test_a_queued_job_that_a_later_charge_leaves_uncovered_is_held_by_the_cycle(
    alice: User,
    alice_org: Organisation,
    h100: GpuType,
    clock: time_machine.Traveller,
    walltime_minutes: int,
    state: str,
    reason: str,
) -> None:
    project = project_for(alice, alice_org, h100, gpu_hours=0, name="Budget")
    figures: dict[str, Any] = {"project": project, "gpu_type": h100}
    ledger_grant(**figures, gpu_hours=Decimal(50), key="granted")
    ledger_hold(**figures, gpu_hours=Decimal(15), key="another-jobs-hold")
    job = queue(alice, project, gpus=1, walltime_minutes=walltime_minutes)  # 50 unspent: accepted
    ledger_charge(**figures, gpu_hours=Decimal(10), key="charged-after-submit")  # 40 unspent

    report = cycle()

    job.refresh_from_db()
    assert (job.state, job.reason) == (state, reason)
    assert report.admitted == []
    assert report.held == (1 if state == "held" else 0)
    held_events = JobEvent.objects.filter(job=job, to_state="held", reason="budget_exhausted")
    assert held_events.count() == (1 if state == "held" else 0)
    assert balance_of(project=project, gpu_type=h100).held == Decimal(15)
