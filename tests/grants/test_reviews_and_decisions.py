"""Review, ranking and decisions: awards create projects with grants on the ledger."""

from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import MembershipRole, User
from booking.grants.selectors.reviews import application_scores, ranked_applications
from booking.grants.services.applications import application_submit
from booking.grants.services.decisions import application_award, application_reject
from booking.grants.services.reviews import (
    ScoreInput,
    review_declare_conflict,
    review_score,
    review_sums_store,
    reviewer_assign,
)
from booking.ledger.selectors import balances_of
from booking.models import (
    Application,
    ApplicationDecision,
    ApplicationState,
    Call,
    LedgerEntry,
    ProjectInvitation,
    ProjectMember,
    ReviewAssignment,
    ReviewScore,
)
from stargate_portal.errors import Conflict, PermissionDenied, ValidationFailed
from tests.factories import MembershipFactory, UserFactory
from tests.fixtures.grants import draft_for

pytestmark = pytest.mark.django_db


def _score_all(assignment, reviewer: User, score: int) -> None:  # type: ignore[no-untyped-def]
    criteria = assignment.application.call.criteria.all()
    review_score(
        assignment=assignment,
        reviewer=reviewer,
        scores=[ScoreInput(c.pk, score, f"c{c.pk}", for_applicant=True) for c in criteria],
    )


def test_assigning_a_reviewer_puts_the_application_under_review(
    submitted: Application, reviewer: User, staff: User, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        assignment = reviewer_assign(application=submitted, reviewer=reviewer, staff=staff)
    submitted.refresh_from_db()
    assert submitted.state == ApplicationState.UNDER_REVIEW
    assert assignment.reviewer == reviewer
    assert any("review" in m.subject.lower() for m in mail.outbox)


def test_a_reviewer_from_the_applicant_organisation_is_never_assigned(
    submitted: Application, reviewer: User, staff: User, alice_org
) -> None:  # type: ignore[no-untyped-def]
    MembershipFactory(user=reviewer, organisation=alice_org, role=MembershipRole.MEMBER)
    with pytest.raises(Conflict) as refused:
        reviewer_assign(application=submitted, reviewer=reviewer, staff=staff)
    assert refused.value.code == "reviewer_conflict_of_interest"


def test_someone_without_the_reviewer_role_cannot_be_assigned(
    submitted: Application, bob: User, staff: User
) -> None:
    with pytest.raises(ValidationFailed):
        reviewer_assign(application=submitted, reviewer=bob, staff=staff)


def test_declaring_a_conflict_removes_the_reviewer(
    submitted: Application, reviewer: User, staff: User
) -> None:
    assignment = reviewer_assign(application=submitted, reviewer=reviewer, staff=staff)
    review_declare_conflict(assignment=assignment, reviewer=reviewer, reason="Former colleague")
    assignment.refresh_from_db()
    with pytest.raises(Conflict) as refused:
        _score_all(assignment, reviewer, 5)
    assert refused.value.code == "conflict_declared"


def test_scoring_an_application_you_are_not_assigned_to_is_refused(
    submitted: Application, reviewer: User, staff: User, bob: User
) -> None:
    assignment = reviewer_assign(application=submitted, reviewer=reviewer, staff=staff)
    with pytest.raises(PermissionDenied):
        _score_all(assignment, bob, 5)


def test_scores_outside_1_to_5_are_invalid(
    submitted: Application, reviewer: User, staff: User
) -> None:
    assignment = reviewer_assign(application=submitted, reviewer=reviewer, staff=staff)
    criterion = submitted.call.criteria.first()
    with pytest.raises(ValidationFailed):
        review_score(assignment=assignment, reviewer=reviewer, scores=[ScoreInput(criterion.pk, 6)])  # type: ignore[union-attr]


def test_ranking_orders_by_tier_then_weighted_score(
    call: Call, alice: User, bob: User, reviewer: User, staff: User
) -> None:
    academic = application_submit(application=draft_for(alice, call), user=alice)
    startup = application_submit(application=draft_for(bob, call), user=bob)
    for application, score in ((academic, 2), (startup, 5)):
        assignment = reviewer_assign(application=application, reviewer=reviewer, staff=staff)
        _score_all(assignment, reviewer, score)
    ranked = ranked_applications(call=call)
    assert [r.application.pk for r in ranked] == [academic.pk, startup.pk]
    assert [r.tier for r in ranked] == [1, 2]
    assert ranked[0].weighted_score == Decimal("2.00")
    assert ranked[1].weighted_score == Decimal("5.00")
    assert [r.reviews for r in ranked] == [1, 1]


def test_a_review_scored_again_counts_once_with_its_new_scores_and_a_conflict_drops_it(
    call: Call, alice: User, reviewer: User, staff: User
) -> None:
    application = application_submit(application=draft_for(alice, call), user=alice)
    second = UserFactory(email="second@kth.se")
    second.groups.add(*reviewer.groups.all())
    first_review = reviewer_assign(application=application, reviewer=reviewer, staff=staff)
    second_review = reviewer_assign(application=application, reviewer=second, staff=staff)
    excellence, feasibility, impact = call.criteria.order_by("position")  # weights 50, 30, 20

    _score_all(first_review, reviewer, 1)
    review_score(  # 4 x 50 + 2 x 30 + 5 x 20 = 360 over 100
        assignment=first_review,
        reviewer=reviewer,
        scores=[
            ScoreInput(excellence.pk, 4),
            ScoreInput(feasibility.pk, 2),
            ScoreInput(impact.pk, 5),
        ],
    )
    _score_all(second_review, second, 3)  # 300 over 100

    first_review.refresh_from_db()
    assert (first_review.score_x_weight, first_review.weight_total) == (360, 100)
    [ranked] = ranked_applications(call=call)
    assert ranked.weighted_score == Decimal("3.30")  # (360 + 300) / 200
    assert ranked.reviews == 2
    assert application_scores(application) == (
        Decimal("3.30"),
        {first_review.pk: Decimal("3.60"), second_review.pk: Decimal("3.00")},
    )

    review_declare_conflict(assignment=second_review, reviewer=second, reason="Co-author")

    [ranked] = ranked_applications(call=call)
    assert (ranked.weighted_score, ranked.reviews) == (Decimal("3.60"), 1)


def test_the_ranking_reads_one_row_per_reviewer_not_every_score(
    call: Call, alice: User, reviewer: User, staff: User
) -> None:
    application = application_submit(application=draft_for(alice, call), user=alice)
    assignment = reviewer_assign(application=application, reviewer=reviewer, staff=staff)
    _score_all(assignment, reviewer, 4)

    with CaptureQueriesContext(connection) as queries:
        [ranked] = ranked_applications(call=call)

    assert ranked.weighted_score == Decimal("4.00")
    assert not [q["sql"] for q in queries if "reviewscore" in q["sql"] or "criterion" in q["sql"]]


def test_sums_stored_for_scores_written_in_bulk_match_the_scores(
    call: Call, alice: User, bob: User, reviewer: User, staff: User
) -> None:
    """As the benchmarks and the migration that added the sums write them."""
    assignments = [
        reviewer_assign(
            application=application_submit(application=draft_for(user, call), user=user),
            reviewer=reviewer,
            staff=staff,
        )
        for user in (alice, bob)
    ]
    criteria = list(call.criteria.all())
    ReviewScore.objects.bulk_create(
        ReviewScore(assignment=assignments[0], criterion=c, score=n + 1)
        for n, c in enumerate(criteria)
    )

    assert review_sums_store(ReviewAssignment.objects.filter(application__call=call)) == 2

    stored = dict(ReviewAssignment.objects.values_list("pk", "score_x_weight"))
    expected = sum((n + 1) * c.weight for n, c in enumerate(criteria))
    assert stored == {assignments[0].pk: expected, assignments[1].pk: None}


def test_award_creates_the_project_allocations_grants_and_invitations(
    submitted: Application, staff: User, alice: User, call: Call
) -> None:
    award = application_award(
        application=submitted,
        staff=staff,
        reason="Excellent.",
        gpu_hours={"H100": Decimal(3000), "H200": Decimal(500)},
    )
    project = award.project
    assert ProjectMember.objects.get(project=project).user == alice
    assert balances_of(project=project)["H100"].available == Decimal(3000)
    assert balances_of(project=project)["H200"].granted == Decimal(500)
    assert set(LedgerEntry.objects.filter(project=project).values_list("kind", flat=True)) == {
        "grant"
    }
    assert ProjectInvitation.objects.get(project=project).email == "erik@uio.no"
    pools = {p.gpu_type.name: p.remaining_gpu_hours for p in call.pools.all()}
    assert pools == {"H100": Decimal(47_000), "H200": Decimal(19_500)}
    decision = ApplicationDecision.objects.get(application=submitted)
    assert decision.awarded_gpu_hours == {"H100": "3000", "H200": "500"}


def test_award_above_the_remaining_pool_is_refused_and_changes_nothing(
    submitted: Application, staff: User, call: Call
) -> None:
    with pytest.raises(Conflict) as refused:
        application_award(
            application=submitted, staff=staff, reason="ok", gpu_hours={"H200": Decimal(20_001)}
        )
    assert refused.value.code == "pool_exhausted"
    assert refused.value.details["remaining_gpu_hours"] == {"H200": "20000.0000"}
    submitted.refresh_from_db()
    assert submitted.state == ApplicationState.UNDER_REVIEW or submitted.state == "submitted"
    assert not LedgerEntry.objects.exists()


def test_rejection_is_final_and_audited(submitted: Application, staff: User) -> None:
    application_reject(application=submitted, staff=staff, reason="Out of scope.")
    with pytest.raises(Conflict) as refused:
        application_award(application=submitted, staff=staff, reason="x", gpu_hours={"H100": 1})
    assert refused.value.code == "already_decided"
    decision = ApplicationDecision.objects.get(application=submitted)
    assert (decision.decision, decision.reason) == ("rejected", "Out of scope.")


def test_only_staff_decide(submitted: Application, alice: User) -> None:
    with pytest.raises(PermissionDenied):
        application_reject(application=submitted, staff=alice, reason="no")
