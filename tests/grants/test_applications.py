"""Applications: drafts, limits, submission rules, withdrawal, attachment."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import User
from booking.energy.estimates import request_energy_kwh
from booking.grants.services.applications import (
    application_attach,
    application_submit,
    application_update,
    application_withdraw,
)
from booking.models import Application, ApplicationState, Call, GpuType, Notification
from stargate_portal.errors import Conflict, ValidationFailed
from tests.factories import CallFactory
from tests.fixtures.grants import draft_for

pytestmark = pytest.mark.django_db


def test_complete_draft_is_submitted_and_the_applicant_is_notified(
    alice: User, call: Call, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    draft = draft_for(alice, call)
    with django_capture_on_commit_callbacks(execute=True):
        submitted = application_submit(application=draft, user=alice)
    assert submitted.state == ApplicationState.SUBMITTED
    assert submitted.submitted_at is not None
    assert Notification.objects.filter(user=alice, subject__contains="NorLLM").count() == 1
    assert mail.outbox[-1].to == ["alice@uio.no"]


def test_incomplete_draft_lists_every_missing_field(alice: User, call: Call) -> None:
    draft = draft_for(alice, call, abstract="", ai_act_risk="", requests={})
    with pytest.raises(ValidationFailed) as refused:
        application_submit(application=draft, user=alice)
    assert set(refused.value.details) >= {"abstract", "ai_act_risk", "requests"}
    draft.refresh_from_db()
    assert draft.state == ApplicationState.DRAFT


def test_late_submission_is_refused(alice: User, call: Call) -> None:
    draft = draft_for(alice, call)
    late = call.closes_at + timedelta(minutes=1)  # type: ignore[operator]
    with time_machine.travel(late), pytest.raises(Conflict) as refused:
        application_submit(application=draft, user=alice)
    assert refused.value.code == "call_closed"


def test_submitted_application_cannot_be_edited(submitted: Application, alice: User) -> None:
    with pytest.raises(Conflict) as refused:
        application_update(application=submitted, user=alice, title="Changed")
    assert refused.value.code == "application_not_editable"
    submitted.refresh_from_db()
    assert submitted.title == "NorLLM"


def test_request_above_the_call_cap_is_refused(alice: User, call: Call) -> None:
    draft = draft_for(alice, call)
    with pytest.raises(Conflict) as refused:
        application_update(application=draft, user=alice, requests={"H100": Decimal(10_001)})
    assert refused.value.code == "request_above_cap"
    assert [r.gpu_hours for r in draft.requests.all()] == [Decimal(4000)]


def test_gpu_type_the_call_does_not_offer_is_refused(alice: User, call: Call) -> None:
    GpuType.objects.create(name="GB200", memory_gb=192, power_watts=1200)
    draft = draft_for(alice, call)
    with pytest.raises(Conflict) as refused:
        application_update(application=draft, user=alice, requests={"GB200": Decimal(10)})
    assert refused.value.code == "gpu_type_not_offered"


def test_an_organisation_of_a_tier_the_call_excludes_cannot_apply(charlie: User) -> None:
    european_only = CallFactory(allowed_tiers=[1, 2])
    with pytest.raises(Conflict) as refused:
        draft_for(charlie, european_only)
    assert refused.value.code == "tier_not_allowed"
    assert not Application.objects.exists()


def test_applicant_may_only_apply_for_their_own_organisation(
    alice: User, bob: User, call: Call
) -> None:
    from booking.grants.services.applications import application_create

    with pytest.raises(ValidationFailed) as refused:
        application_create(
            user=alice, call=call, organisation=bob.memberships.get().organisation, title="X"
        )
    assert "organisation" in refused.value.details


def test_withdrawal_before_a_decision_only(submitted: Application, alice: User) -> None:
    withdrawn = application_withdraw(application=submitted, user=alice)
    assert withdrawn.state == ApplicationState.WITHDRAWN
    with pytest.raises(Conflict):
        application_withdraw(application=withdrawn, user=alice)


def test_only_the_applicant_changes_the_application(alice: User, bob: User, call: Call) -> None:
    draft = draft_for(alice, call)
    with pytest.raises(Conflict) as refused:
        application_update(application=draft, user=bob, title="Hijacked")
    assert refused.value.code == "not_applicant"


def test_pdf_attachment_is_stored_and_other_files_are_refused(
    alice: User,
    call: Call,
    settings,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    settings.MEDIA_ROOT = tmp_path
    draft = draft_for(alice, call)
    pdf = SimpleUploadedFile("plan.pdf", b"%PDF-1.7\n...", content_type="application/pdf")
    attached = application_attach(application=draft, user=alice, upload=pdf)
    assert attached.attachment.read().startswith(b"%PDF-")
    fake = SimpleUploadedFile("plan.pdf", b"MZ\x90\x00", content_type="application/pdf")
    with pytest.raises(ValidationFailed, match="PDF"):
        application_attach(application=draft, user=alice, upload=fake)
    settings.APPLICATION_ATTACHMENT_MAX_BYTES = 4
    with pytest.raises(ValidationFailed, match="at most"):
        application_attach(application=draft, user=alice, upload=pdf)


def test_energy_estimate_is_gpu_hours_times_power_times_pue(settings) -> None:  # type: ignore[no-untyped-def]
    settings.SITE_PUE = 1.1
    h100 = GpuType(name="H100", memory_gb=80, power_watts=700)
    assert request_energy_kwh([(h100, Decimal(1000))]) == Decimal("770.0")
