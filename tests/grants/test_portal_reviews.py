"""The reviewer inbox: active assignments only, scores 1-5 per criterion, conflicts."""

from django.urls import reverse

from booking.grants.services.reviews import reviewer_assign
from booking.models import ReviewAssignment, ReviewScore
from tests.factories import UserFactory
from tests.pages import field_errors, page_text

INBOX_URL = reverse("grants:review_inbox")


def review_url(assignment) -> str:
    return reverse("grants:review_detail", args=[assignment.pk])


def score_data(assignment, scores=(5, 4, 3), **extra) -> dict[str, object]:
    criteria = list(assignment.application.call.criteria.all())
    data: dict[str, object] = {}
    for criterion, score in zip(criteria, scores, strict=True):
        data[f"score_{criterion.pk}"] = score
        data[f"comment_{criterion.pk}"] = f"On {criterion.name}."
    return data | extra


def test_reviewer_sees_active_assignments_in_the_inbox(login, reviewer, assignment):
    text = page_text(login(reviewer).get(INBOX_URL))

    assert "NorLLM AI Factory call 2027" in text
    assert "To do" in text


def test_the_reviews_link_is_shown_to_reviewers_only(login, reviewer, alice, assignment):
    navigation = reverse("grants:navigation")

    assert 'href="/reviews/"' in login(reviewer).get(navigation).content.decode()
    assert 'href="/reviews/"' not in login(alice).get(navigation).content.decode()


def test_the_navigation_marks_the_current_section(login, reviewer, assignment):
    client = login(reviewer)

    assert 'hx-get="/navigation/?section=reviews"' in client.get(INBOX_URL).content.decode()
    fragment = client.get(reverse("grants:navigation"), {"section": "reviews"}).content.decode()
    assert '<a href="/reviews/" aria-current="page">' in fragment


def test_people_without_the_reviewer_role_get_403(login, alice):
    assert login(alice).get(INBOX_URL).status_code == 403


def test_empty_inbox_says_what_happens_next(login, reviewer):
    assert "Nothing to review." in page_text(login(reviewer).get(INBOX_URL))


def test_review_page_shows_the_application_and_a_form_per_criterion(login, reviewer, assignment):
    text = page_text(login(reviewer).get(review_url(assignment)))

    assert "Review NorLLM" in text
    assert "Training a Norwegian-language foundation model." in text
    assert "H100: 4,000 GPU-hours" in text
    assert "Excellence · weight 50" in text
    assert "Show this comment to the applicant (without your name)" in text


def test_reviewer_scores_each_criterion_with_comments(login, reviewer, assignment):
    criteria = list(assignment.application.call.criteria.all())
    data = score_data(assignment, **{f"for_applicant_{criteria[0].pk}": "on"})

    response = login(reviewer).post(review_url(assignment), data, follow=True)

    scores = {s.criterion.name: (s.score, s.for_applicant) for s in ReviewScore.objects.all()}
    assert scores == {
        "Excellence": (5, True),
        "Feasibility": (4, False),
        "European impact": (3, False),
    }
    assert "Your scores were saved." in page_text(response)
    assert "Scored" in page_text(login(reviewer).get(INBOX_URL))


def test_score_out_of_range_is_shown_next_to_it_and_nothing_is_saved(login, reviewer, assignment):
    criterion = assignment.application.call.criteria.first()

    response = login(reviewer).post(review_url(assignment), score_data(assignment, (7, 4, 3)))

    assert field_errors(response, f"score_{criterion.pk}") == [
        "Select a valid choice. 7 is not one of the available choices."
    ]
    assert not ReviewScore.objects.exists()


def test_missing_score_is_required(login, reviewer, assignment):
    data = score_data(assignment)
    criterion = assignment.application.call.criteria.last()
    del data[f"score_{criterion.pk}"]

    response = login(reviewer).post(review_url(assignment), data)

    assert field_errors(response, f"score_{criterion.pk}") == ["This field is required."]
    assert not ReviewScore.objects.exists()


def test_declaring_a_conflict_takes_the_reviewer_off_the_application(login, reviewer, assignment):
    response = login(reviewer).post(
        reverse("grants:review_conflict", args=[assignment.pk]),
        {"reason": "I co-authored with the PI last year."},
        follow=True,
    )

    assignment.refresh_from_db()
    assert not assignment.is_active
    text = page_text(response)
    assert "You declared a conflict of interest" in text
    assert "Nothing to review." in text
    assert login(reviewer).get(review_url(assignment)).status_code == 404


def test_a_conflict_needs_a_reason(login, reviewer, assignment):
    response = login(reviewer).post(
        reverse("grants:review_conflict", args=[assignment.pk]), {"reason": ""}
    )

    assert field_errors(response, "reason") == ["This field is required."]
    assignment.refresh_from_db()
    assert assignment.is_active


def test_another_reviewers_assignment_is_404(login, assignment, staff, db):
    from django.contrib.auth.models import Group

    from booking.models import REVIEWERS_GROUP

    other = UserFactory(email="olav@ntnu.no")
    other.groups.add(Group.objects.get(name=REVIEWERS_GROUP))
    client = login(other)

    assert client.get(review_url(assignment)).status_code == 404
    assert client.post(review_url(assignment), score_data(assignment)).status_code == 404
    assert not ReviewScore.objects.exists()


def test_scores_are_closed_after_the_decision(login, reviewer, project):
    assignment = ReviewAssignment.objects.get()

    text = page_text(login(reviewer).get(review_url(assignment)))

    assert "This application is Awarded: scores can no longer change." in text


def test_applicant_cannot_review_their_own_application(login, alice, portal_submitted, staff):
    from django.contrib.auth.models import Group

    from booking.models import REVIEWERS_GROUP

    alice.groups.add(Group.objects.get_or_create(name=REVIEWERS_GROUP)[0])
    other = UserFactory(email="nils@kth.se")
    other.groups.add(Group.objects.get(name=REVIEWERS_GROUP))
    assignment = reviewer_assign(application=portal_submitted, reviewer=other, staff=staff)

    assert login(alice).get(review_url(assignment)).status_code == 404
