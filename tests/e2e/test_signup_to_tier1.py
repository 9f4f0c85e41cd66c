"""End to end in a real browser: a researcher signs up, registers NTNU, staff verify it, tier 1.

Flow: sign up → confirm the e-mail by its link (POST) → register the organisation → log out →
staff log in, review the evidence in the console and approve → the researcher logs in again and
sees "Tier 1" on the dashboard.
"""

import re

import pytest
from django.core import mail
from stdnum.no import orgnr

from accounts.models import Organisation, VerificationDecision, VerificationState
from tests.factories import UserFactory

pytestmark = pytest.mark.browser

DANA_EMAIL = "dana@ntnu.no"
DANA_PASSWORD = "Fjord-and-northern-lights-42"
STAFF_EMAIL = "verifier@stargate.eu"
STAFF_PASSWORD = "correct horse battery staple"  # tests.factories.UserFactory's password
NTNU_ORGNR = "974767880"


def log_in(page, email: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url("**/")


def log_out(page) -> None:
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/accounts/login/")


def confirmation_path() -> str:
    assert len(mail.outbox) == 1, [m.subject for m in mail.outbox]
    message = mail.outbox[0]
    assert message.to == [DANA_EMAIL]
    match = re.search(r"https?://[^/\s]+(/accounts/confirm-email/[^/\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


def test_new_researcher_signs_up_registers_ntnu_and_reaches_tier_1(page, screenshot):
    assert orgnr.is_valid(NTNU_ORGNR)  # the number used below is a real, valid org.nr.
    UserFactory(email=STAFF_EMAIL, is_staff=True)  # confirmed EmailAddress via the factory

    # Dana signs up and is asked to confirm her e-mail.
    page.goto("/accounts/signup/")
    page.get_by_label("Email").fill(DANA_EMAIL)
    page.get_by_label("Password", exact=True).fill(DANA_PASSWORD)
    page.get_by_label("Password (again)").fill(DANA_PASSWORD)
    screenshot("01-signup")
    page.get_by_role("button", name="Sign Up").click()
    page.get_by_role("heading", name="Verify Your Email Address").wait_for()
    screenshot("02-verification-sent")

    # She opens the link from the e-mail; confirming takes a POST, then she is logged in.
    page.goto(confirmation_path())
    page.get_by_role("heading", name="Confirm Email Address").wait_for()
    screenshot("03-confirm-email")
    page.get_by_role("button", name="Confirm").click()
    page.get_by_role("heading", name="Dashboard").wait_for()
    assert "You are not in any organisation yet." in page.inner_text("main")
    assert page.evaluate("typeof window.htmx") == "object"  # {% htmx_script %} loaded
    screenshot("04-dashboard-newcomer")

    # She registers NTNU.
    page.get_by_role("link", name="Register your organisation").first.click()
    page.get_by_label("Name").fill("NTNU")
    page.get_by_label("Kind").select_option("university")
    page.get_by_label("Country").select_option("NO")
    page.get_by_label("VAT or registration number").fill(NTNU_ORGNR)
    page.get_by_label("Website").fill("https://www.ntnu.no")
    page.get_by_label("Founding date").fill("1996-01-01")
    page.get_by_label("E-mail domains").fill("ntnu.no")
    screenshot("05-organisation-form")
    page.get_by_role("button", name="Register organisation").click()
    page.get_by_role("heading", name="NTNU", exact=True).wait_for()
    main = page.inner_text("main")
    assert "Pending verification" in main
    assert "Tier 4 · International or unverified" in main
    screenshot("06-organisation-pending")
    log_out(page)

    # Staff log in, find NTNU in the verification queue with its evidence, and approve it.
    log_in(page, STAFF_EMAIL, STAFF_PASSWORD)
    page.get_by_role("link", name="Console").click()
    page.get_by_role("heading", name="Verification queue").wait_for()
    review = page.locator("article", has=page.get_by_role("heading", name="NTNU"))
    evidence = review.inner_text()
    assert NTNU_ORGNR in evidence
    assert "valid NO orgnr" in evidence
    assert DANA_EMAIL in evidence
    assert "in the European region" in evidence
    assert "Tier 1" in evidence
    screenshot("07-console-queue")
    review.get_by_role("link", name="Review NTNU").click()
    page.get_by_role("heading", name="Review NTNU").wait_for()
    page.get_by_role("button", name="Approve").click()
    assert "This field is required." in page.inner_text("main")  # a reason is required
    page.get_by_label("Reason").fill("Org.nr. 974767880 checked in Brønnøysundregistrene.")
    screenshot("08-console-review")
    page.get_by_role("button", name="Approve").click()
    page.get_by_text("NTNU is verified.").wait_for()
    screenshot("09-console-approved")
    log_out(page)

    organisation = Organisation.objects.get(name="NTNU")
    assert organisation.verification_state == VerificationState.VERIFIED
    decision = VerificationDecision.objects.get(organisation=organisation)
    assert decision.decided_by.email == STAFF_EMAIL

    # Dana logs in again: her dashboard shows tier 1.
    log_in(page, DANA_EMAIL, DANA_PASSWORD)
    page.get_by_role("heading", name="Dashboard").wait_for()
    main = page.inner_text("main")
    assert "Tier 1" in main
    assert "Your priority tier: Tier 1 · European academic" in main
    screenshot("10-dashboard-tier-1")
