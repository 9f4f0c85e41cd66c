"""The multi-step application form: each step saves the draft; submission checks everything."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from booking.models import Application, ApplicationRequest, ApplicationState
from tests.factories import CallFactory
from tests.fixtures.grants import draft_for
from tests.pages import error_is_linked_to_input, field_errors, form_errors, page_text


def step_url(application, step: str) -> str:
    return reverse("grants:application_step", args=[application.pk, step])


def submit_url(application) -> str:
    return reverse("grants:application_submit", args=[application.pk])


def detail_url(application) -> str:
    return reverse("grants:application_detail", args=[application.pk])


def test_step_one_creates_a_draft_for_one_of_my_organisations(login, alice, alice_org, portal_call):
    response = login(alice).post(
        reverse("grants:application_create", args=[portal_call.pk]),
        {
            "organisation": alice_org.pk,
            "title": "NorLLM",
            "abstract": "A Norwegian model.",
            "case_for_support": "None exists.",
            "go": "next",
        },
        follow=True,
    )

    application = Application.objects.get()
    assert (application.applicant, application.organisation) == (alice, alice_org)
    assert application.state == ApplicationState.DRAFT
    assert response.redirect_chain[-1][0] == step_url(application, "resources")
    assert "Draft saved. Continue with the resources you need." in page_text(response)


def test_step_one_lists_only_my_organisations(login, alice, charlie, portal_call):
    text = page_text(login(alice).get(reverse("grants:application_create", args=[portal_call.pk])))

    assert "University of Oslo · European academic" in text
    assert "Acme" not in text


def test_someone_without_an_organisation_is_told_to_register_one(login, portal_call, db):
    from tests.factories import UserFactory

    text = page_text(
        login(UserFactory()).get(reverse("grants:application_create", args=[portal_call.pk]))
    )

    assert "you are not in one yet" in text
    assert "Register your organisation" in text


def test_organisation_outside_the_allowed_tiers_is_refused_and_nothing_is_created(
    login, charlie, charlie_org, portal_call
):
    response = login(charlie).post(
        reverse("grants:application_create", args=[portal_call.pk]),
        {"organisation": charlie_org.pk, "title": "Acme LLM"},
    )

    assert response.status_code == 200
    assert "This call is open to tiers 1, 2, 3; Acme Compute Inc is tier 4." in form_errors(
        response
    )
    assert not Application.objects.exists()


def test_resources_step_saves_requests_per_gpu_type_and_shows_the_energy(login, alice, draft):
    response = login(alice).post(
        step_url(draft, "resources"),
        {
            "gpu_hours_H100": "4000",
            "gpu_hours_H200": "1000",
            "gpus_per_job": "32",
            "typical_walltime_hours": "12",
            "planned_start": "2027-01-01",
            "planned_end": "2027-06-30",
            "go": "stay",
        },
        follow=True,
    )

    requests = {r.gpu_type.name: r.gpu_hours for r in ApplicationRequest.objects.all()}
    assert requests == {"H100": Decimal(4000), "H200": Decimal(1000)}
    text = page_text(response)
    assert "Draft saved." in text
    # 4,000 h x 700 W x 1.1 = 3,080 kWh; 1,000 h x 1,000 W x 1.1 = 1,100 kWh
    assert "4,180.0 kWh for 5,000 GPU-hours" in text
    times = "\N{MULTIPLICATION SIGN}"
    assert f"H200: 1,000 GPU-hours {times} 1000 W {times} PUE 1.1 = 1,100.0 kWh" in text


def test_energy_estimate_updates_live_from_the_form_being_edited(login, alice, portal_call):
    response = login(alice).get(
        reverse("grants:call_energy", args=[portal_call.pk]),
        {"gpu_hours_H100": "1000", "gpu_hours_H200": "not yet"},
        HTTP_HX_REQUEST="true",
    )

    text = page_text(response)
    assert "770.0 kWh for 1,000 GPU-hours" in text
    assert "<html" not in response.content.decode()


def test_request_above_the_cap_is_shown_next_to_the_gpu_hours_and_nothing_changes(
    login, alice, draft
):
    response = login(alice).post(
        step_url(draft, "resources"), {"gpu_hours_H100": "9000", "gpu_hours_H200": "2000"}
    )

    message = "11000 GPU-hours requested; this call allows at most 10000.0000 per application."
    assert field_errors(response, "gpu_hours_H100") == [message]
    assert field_errors(response, "gpu_hours_H200") == [message]
    assert error_is_linked_to_input(response, "gpu_hours_H100")
    assert [(r.gpu_type.name, r.gpu_hours) for r in draft.requests.all()] == [
        ("H100", Decimal(4000))
    ]


def test_a_gpu_type_the_call_does_not_offer_is_refused_and_nothing_changes(login, alice, draft):
    response = login(alice).post(step_url(draft, "resources"), {"gpu_hours_GB200": "100"})

    assert field_errors(response, "gpu_hours_H100") == ["This call does not offer: GB200."]
    assert [r.gpu_type.name for r in draft.requests.all()] == ["H100"]


def test_end_before_start_is_shown_next_to_the_end(login, alice, draft):
    before = draft.planned_end

    response = login(alice).post(
        step_url(draft, "resources"),
        {"gpu_hours_H100": "4000", "planned_start": "2027-06-01", "planned_end": "2027-01-01"},
    )

    assert field_errors(response, "planned_end") == ["The end must not be before the start."]
    draft.refresh_from_db()
    assert draft.planned_end == before


def test_science_step_saves_model_data_open_science_and_ai_act_risk(login, alice, draft):
    login(alice).post(
        step_url(draft, "science"),
        {
            "model_description": "Mixture of experts.",
            "model_size_billion_parameters": "47",
            "dataset_provenance": "Common Crawl, filtered.",
            "dataset_licence": "ODC-By",
            "personal_data": "on",
            "publish_code": "on",
            "ai_act_risk": "gpai_systemic",
        },
    )

    draft.refresh_from_db()
    assert draft.model_size_billion_parameters == Decimal(47)
    assert (draft.personal_data, draft.publish_code, draft.publish_weights) == (True, True, False)
    assert draft.ai_act_risk == "gpai_systemic"


def test_team_step_saves_emails_and_attaches_a_pdf(login, alice, draft):
    pdf = SimpleUploadedFile("plan.pdf", b"%PDF-1.4 work plan", content_type="application/pdf")

    response = login(alice).post(
        step_url(draft, "team"),
        {"team": "erik@uio.no\nIngrid@UiO.no", "attachment": pdf, "go": "next"},
        follow=True,
    )

    draft.refresh_from_db()
    assert [m.email for m in draft.team.all()] == ["erik@uio.no", "ingrid@uio.no"]
    assert draft.attachment.name.endswith(".pdf")
    assert response.redirect_chain[-1][0] == submit_url(draft)
    assert "application-" in page_text(response)


def test_a_file_that_is_not_a_pdf_is_refused_next_to_the_field(login, alice, draft):
    fake = SimpleUploadedFile("plan.pdf", b"MZ not a pdf", content_type="application/pdf")

    response = login(alice).post(step_url(draft, "team"), {"team": "", "attachment": fake})

    assert field_errors(response, "attachment") == ["Attach a PDF file."]
    draft.refresh_from_db()
    assert not draft.attachment
    assert [m.email for m in draft.team.all()] == ["erik@uio.no"]


def test_a_malformed_team_email_is_refused_next_to_the_field(login, alice, draft):
    response = login(alice).post(step_url(draft, "team"), {"team": "erik@uio.no, not-an-email"})

    assert field_errors(response, "team") == ["Not an e-mail address: not-an-email."]
    assert [m.email for m in draft.team.all()] == ["erik@uio.no"]


def test_submitting_an_incomplete_draft_lists_what_is_missing_by_step(
    login, alice, alice_org, portal_call
):
    from booking.grants.services.applications import application_create

    bare = application_create(user=alice, call=portal_call, organisation=alice_org, title="Sketch")

    response = login(alice).post(submit_url(bare))

    text = page_text(response)
    assert "The application is incomplete; see details." in text
    assert "Basics · Abstract : Required to submit." in text
    assert "Resources · Requested GPU-hours : Request GPU-hours for at least one GPU type." in text
    assert "Model & data · EU AI Act risk category : Required to submit." in text
    assert text.index("Basics · Abstract") < text.index("Resources · Requested GPU-hours")
    assert f'href="{step_url(bare, "science")}"' in response.content.decode()
    bare.refresh_from_db()
    assert bare.state == ApplicationState.DRAFT


def test_submitting_a_complete_draft_sends_it_to_review(login, alice, draft):
    response = login(alice).post(submit_url(draft), follow=True)

    draft.refresh_from_db()
    assert draft.state == ApplicationState.SUBMITTED
    text = page_text(response)
    assert "Submitted. We will let you know when there is a decision." in text
    assert "Reviewers are assessing the application." in text


def test_late_submission_is_refused_and_the_draft_stays_a_draft(login, alice, draft, portal_call):
    portal_call.opens_at = timezone.now() - timedelta(days=40)
    portal_call.closes_at = timezone.now() - timedelta(minutes=5)
    portal_call.save()

    response = login(alice).post(submit_url(draft))

    assert "The call is closed: the deadline has passed." in page_text(response)
    draft.refresh_from_db()
    assert draft.state == ApplicationState.DRAFT


def test_a_submitted_application_can_no_longer_be_edited(login, alice, portal_submitted):
    response = login(alice).post(
        step_url(portal_submitted, "basics"), {"title": "Changed"}, follow=True
    )

    assert "Only drafts can be edited." in page_text(response)
    portal_submitted.refresh_from_db()
    assert portal_submitted.title == "NorLLM"


def test_my_applications_list_shows_each_with_its_state(
    login, alice, portal_submitted, portal_call
):
    draft_for(alice, CallFactory(title="Second call"))

    text = page_text(login(alice).get(reverse("grants:application_list")))

    assert "NorLLM University of Oslo AI Factory call 2027 Submitted" in text
    assert "Second call Draft Continue editing" in text
    assert "H100: 4,000" in text


def test_empty_application_list_points_to_the_calls(login, alice):
    text = page_text(login(alice).get(reverse("grants:application_list")))

    assert "You have no applications yet. Find an open call" in text


def test_applicant_withdraws_before_a_decision(login, alice, portal_submitted):
    response = login(alice).post(
        reverse("grants:application_withdraw", args=[portal_submitted.pk]), follow=True
    )

    portal_submitted.refresh_from_db()
    assert portal_submitted.state == ApplicationState.WITHDRAWN
    assert "The application was withdrawn." in page_text(response)


def test_decision_shows_reason_awarded_hours_and_shared_comments_without_reviewer_names(
    login, alice, project, reviewer
):
    from booking.models import ReviewScore

    assignment = project.application.assignments.get()
    criteria = list(project.application.call.criteria.all())
    ReviewScore.objects.create(
        assignment=assignment,
        criterion=criteria[0],
        score=5,
        comment="Ambitious and well planned.",
        for_applicant=True,
    )
    ReviewScore.objects.create(
        assignment=assignment, criterion=criteria[1], score=3, comment="Internal note."
    )

    response = login(alice).get(detail_url(project.application))

    text = page_text(response)
    assert "Excellent and feasible." in text
    assert "H100: 4,000 GPU-hours" in text
    assert "Ambitious and well planned." in text
    assert "Internal note." not in text
    assert "rita" not in response.content.decode()
    assert f"Go to the project {project.name}" in text


def test_attachment_is_served_to_its_applicant(login, alice, draft):
    # A PDF is binary, NUL bytes and all: only the form's text fields may not hold NUL.
    content = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n\x00\x01 work plan"
    pdf = SimpleUploadedFile("plan.pdf", content, content_type="application/pdf")
    client = login(alice)
    client.post(step_url(draft, "team"), {"team": "", "attachment": pdf})

    response = client.get(reverse("grants:application_attachment", args=[draft.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert (
        b"".join(response.streaming_content if response.streaming else [response.content])
        == content
    )


@pytest.mark.parametrize(
    "url",
    [
        lambda a: detail_url(a),
        lambda a: step_url(a, "basics"),
        lambda a: step_url(a, "resources"),
        lambda a: submit_url(a),
        lambda a: reverse("grants:application_attachment", args=[a.pk]),
    ],
)
def test_charlie_gets_404_on_alices_application_pages(login, charlie, draft, url):
    assert login(charlie).get(url(draft)).status_code == 404


def test_charlie_cannot_withdraw_or_submit_alices_application(login, charlie, draft):
    client = login(charlie)

    assert client.post(reverse("grants:application_withdraw", args=[draft.pk])).status_code == 404
    assert client.post(submit_url(draft)).status_code == 404
    draft.refresh_from_db()
    assert draft.state == ApplicationState.DRAFT


@pytest.mark.parametrize("count", [1, 15])
def test_my_applications_query_count_does_not_grow(
    login, alice, django_assert_max_num_queries, count, db
):
    call = CallFactory(pools={"H100": 100_000, "H200": 100_000})
    for _ in range(count):
        draft_for(alice, call, requests={"H100": Decimal(10), "H200": Decimal(10)})
    client = login(alice)

    with django_assert_max_num_queries(6):
        response = client.get(reverse("grants:application_list"))

    assert response.status_code == 200


@pytest.mark.parametrize("typed", ["1e30", "-5", "NaN", "Infinity", "12,5"])
def test_energy_estimate_ignores_what_cannot_be_a_request(login, alice, portal_call, typed):
    response = login(alice).get(
        reverse("grants:call_energy", args=[portal_call.pk]), {"gpu_hours_H100": typed}
    )

    assert response.status_code == 200
    assert "Enter GPU-hours above" in page_text(response)


def test_a_huge_number_of_gpu_hours_is_a_form_error_not_a_crash(login, alice, draft):
    response = login(alice).post(step_url(draft, "resources"), {"gpu_hours_H100": "1e30"})

    assert response.status_code == 200
    assert field_errors(response, "gpu_hours_H100")
    assert [r.gpu_hours for r in draft.requests.all()] == [Decimal(4000)]


def test_an_unknown_step_is_404(login, alice, draft):
    assert login(alice).get(step_url(draft, "payment")).status_code == 404
