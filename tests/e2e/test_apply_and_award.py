"""End to end in a real browser: a researcher applies to a call, a reviewer scores, staff award.

Flow: alice (University of Oslo, verified: tier 1) applies through the multi-step form and sees
the energy estimate update as she types → submits → staff assign rita as reviewer in the
console → rita scores every criterion and shares a comment → staff award 3,500 H100 GPU-hours
→ alice sees the project with its balance, and the shared comment on her application.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.models import MembershipRole
from booking.ledger.selectors import balances_of
from booking.ledger.services import ledger_charge
from booking.models import REVIEWERS_GROUP, Application, ApplicationState, GpuType, Project
from tests.factories import (
    CallFactory,
    GpuTypeFactory,
    MembershipFactory,
    OrganisationFactory,
    UserFactory,
)

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"  # tests.factories.UserFactory's password
PDF = b"%PDF-1.4\n% NorLLM work plan\n"


def log_in(page, email: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.get_by_role("heading", name="Dashboard").wait_for()


def log_out(page) -> None:
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/accounts/login/")


def charge_as_jobs_would(project: Project, hours_days_ago: dict[int, int]) -> None:
    """Charges as finished jobs will make them (the jobs issue), on past days."""
    h100 = GpuType.objects.get(name="H100")
    for days_ago, hours in hours_days_ago.items():
        with time_machine.travel(timezone.now() - timedelta(days=days_ago), tick=False):
            ledger_charge(
                project=project, gpu_type=h100, gpu_hours=Decimal(hours), key=f"job-{days_ago}"
            )


def section(page, heading: str):
    return page.locator("section", has=page.get_by_role("heading", name=heading, exact=True))


def test_researcher_applies_reviewer_scores_and_staff_award_a_project(
    page, screenshot, media_in_tmp
):
    university = OrganisationFactory(name="University of Oslo", country="NO", domains=["uio.no"])
    alice = UserFactory(email="alice@uio.no", full_name="Alice Hansen")
    MembershipFactory(user=alice, organisation=university, role=MembershipRole.OWNER)
    rita = UserFactory(email="rita@kth.se", full_name="Rita Reviewer")
    rita.groups.add(Group.objects.get_or_create(name=REVIEWERS_GROUP)[0])
    UserFactory(email="staff@stargate.eu", is_staff=True)
    GpuTypeFactory(name="H200", memory_gb=141, power_watts=1000)
    CallFactory(title="AI Factory call 2027", pools={"H100": 50_000, "H200": 20_000})
    start = timezone.localdate() + timedelta(days=10)
    month_ago = timezone.localdate() - timedelta(days=30)

    # Alice finds the open call and starts an application.
    log_in(page, "alice@uio.no")
    page.get_by_role("link", name="Calls").click()
    page.get_by_role("link", name="AI Factory call 2027").click()
    screenshot("apply-01-call")
    page.get_by_role("link", name="Apply to this call").click()

    # Step 1: basics. Saving creates the draft.
    page.get_by_label("Organisation").select_option(label="University of Oslo · European academic")
    page.get_by_label("Title").fill("NorLLM")
    page.get_by_label("Abstract").fill("A Norwegian-language foundation model.")
    page.get_by_label("Case for support").fill("No open Norwegian model of this size exists.")
    page.get_by_role("button", name="Save and continue").click()

    # Step 2: resources. The energy estimate follows the GPU-hours as she types (htmx).
    page.get_by_text("Draft saved. Continue with the resources you need.").wait_for()
    page.wait_for_load_state()  # htmx binds its triggers once the page has loaded
    page.get_by_label("H100 GPU-hours").fill("4000")
    page.get_by_text("3,080.0 kWh", exact=True).wait_for()  # 4,000 h x 700 W x PUE 1.1
    page.get_by_label("H200 GPU-hours").fill("1000")
    page.get_by_text("4,180.0 kWh", exact=True).wait_for()  # + 1,000 h x 1,000 W x 1.1
    page.get_by_label("GPUs per job").fill("64")
    page.get_by_label("Typical walltime (hours)").fill("24")
    page.get_by_label("Planned start").fill(start.isoformat())
    page.get_by_label("Planned end").fill((start + timedelta(days=180)).isoformat())
    screenshot("apply-02-resources-energy")
    page.get_by_role("button", name="Save and continue").click()

    # Step 3: model and data, open science, EU AI Act.
    page.get_by_role("heading", name="Model & data", exact=True).wait_for()
    page.get_by_label("Model description").fill("Decoder-only transformer, 7B parameters.")
    page.get_by_label("Model size (billion parameters)").fill("7")
    page.get_by_label("Dataset provenance").fill("National Library of Norway corpus.")
    page.get_by_label("Dataset licence").fill("CC-BY 4.0")
    page.get_by_label("We will publish the model weights").check()
    page.get_by_label("EU AI Act risk category").select_option("gpai")
    page.get_by_role("button", name="Save and continue").click()

    # Step 4: team and the PDF attachment.
    page.get_by_role("heading", name="Team & attachment", exact=True).wait_for()
    page.get_by_label("Team members' e-mail addresses").fill("erik@uio.no")
    page.get_by_label("Attachment (PDF)").set_input_files(
        {"name": "work-plan.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    page.get_by_role("button", name="Save and continue").click()

    # Review and submit.
    page.get_by_role("heading", name="Review and submit").wait_for()
    summary = page.inner_text("main")
    assert "H100: 4,000" in summary
    assert "4,180.0 kWh" in summary
    assert "application-" in summary  # the attached PDF
    screenshot("apply-03-review-and-submit")
    page.get_by_role("button", name="Submit application").click()
    page.get_by_text("Submitted. We will let you know when there is a decision.").wait_for()
    screenshot("apply-04-submitted")
    application = Application.objects.get()
    assert application.state == ApplicationState.SUBMITTED
    log_out(page)

    # Staff find it ranked in the console and assign rita.
    log_in(page, "staff@stargate.eu")
    page.get_by_role("link", name="Console").click()
    page.get_by_role("link", name="Calls and applications").click()
    page.get_by_role("link", name="AI Factory call 2027").click()
    ranking = page.locator("table.ranking").inner_text()
    assert "NorLLM" in ranking
    assert "Tier 1" in ranking
    screenshot("apply-05-console-ranking")
    page.get_by_role("link", name="NorLLM").click()
    page.get_by_label("Reviewer", exact=True).select_option(label="rita@kth.se")
    page.get_by_role("button", name="Assign", exact=True).click()
    page.get_by_text("rita@kth.se is assigned and notified.").wait_for()
    screenshot("apply-06-console-assigned")
    log_out(page)

    # Rita scores each criterion in her inbox and shares one comment with the applicant.
    log_in(page, "rita@kth.se")
    page.get_by_role("link", name="Reviews").click()
    page.get_by_role("link", name="NorLLM").click()
    for criterion, weight, score in (("Excellence", 50, "5"), ("Feasibility", 30, "4")):
        group = page.get_by_role("group", name=f"Score for {criterion} (weight {weight})")
        group.get_by_label(score, exact=True).check()
    page.get_by_role("group", name="Score for European impact (weight 20)").get_by_label(
        "4", exact=True
    ).check()
    page.get_by_label("Comment on Excellence").fill("Ambitious, with a clear data plan.")
    page.locator("fieldset.criterion").first.get_by_label(
        "Show this comment to the applicant (without your name)"
    ).check()
    screenshot("apply-07-reviewer-scores")
    page.get_by_role("button", name="Save scores").click()
    page.get_by_text("Your scores were saved.").wait_for()
    log_out(page)

    # Staff award 3,500 H100 GPU-hours (less than asked) and no H200.
    log_in(page, "staff@stargate.eu")
    page.goto(f"/console/grants/applications/{application.pk}/")
    assert "4.50 / 5" in page.inner_text("main")  # (5x50 + 4x30 + 4x20) / 100
    award = section(page, "Award")
    assert "50,000 remain in the pool" in award.inner_text()
    award.get_by_label("H100 GPU-hours").fill("3500")
    award.get_by_label("H200 GPU-hours").fill("")
    award.get_by_label("Allocation starts").fill(month_ago.isoformat())
    award.get_by_label("Reason").fill("Excellent science; H100 only in the first year.")
    screenshot("apply-08-console-decision")
    award.get_by_role("button", name="Award", exact=True).click()
    page.get_by_text("Awarded. The project “NorLLM” was created").wait_for()
    screenshot("apply-09-console-project")
    log_out(page)

    project = Project.objects.get()
    assert balances_of(project=project)["H100"].granted == Decimal(3500)
    charge_as_jobs_would(project, {20: 200, 9: 650, 2: 300})

    # Alice sees the decision, the shared comment and the project with its balance.
    log_in(page, "alice@uio.no")
    page.get_by_role("link", name="Notifications 2 unread").wait_for()  # loaded by htmx
    page.get_by_role("link", name="Applications", exact=True).click()
    page.get_by_role("link", name="NorLLM").click()
    detail = page.inner_text("main")
    assert "Excellent science; H100 only in the first year." in detail
    assert "Ambitious, with a clear data plan." in detail
    assert "rita" not in detail.lower()
    page.get_by_role("link", name="Go to the project NorLLM").click()
    page.get_by_role("heading", name="NorLLM", exact=True).wait_for()
    balances = page.locator("table.balances").inner_text()
    assert "H100" in balances
    assert "2,350" in balances  # 3,500 granted - 1,150 charged
    assert "your role: Principal investigator" in page.inner_text("main")
    assert "H100: 1,150 GPU-hours charged" in page.inner_text("main")
    assert page.locator("svg.chart__svg polyline").count() == 1
    screenshot("apply-10-project-balance-and-usage")
