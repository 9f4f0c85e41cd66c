"""Scores of one review written at once, and a conflict declared while a reviewer scores: the
sums the ranking reads stay those of the committed scores (PostgreSQL, threads)."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from accounts.models import User
from booking.grants.selectors.reviews import ranked_applications
from booking.grants.services.applications import application_submit
from booking.grants.services.reviews import (
    ScoreInput,
    review_declare_conflict,
    review_score,
    reviewer_assign,
)
from booking.models import Call, ReviewAssignment, ReviewScore
from stargate_portal.errors import Conflict
from tests.fixtures.grants import draft_for

ROUNDS = 6


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_each_criterion_scored_at_once_by_its_own_request_leaves_the_sums_of_all_of_them(
    call: Call, alice: User, reviewer: User, staff: User
) -> None:
    application = application_submit(application=draft_for(alice, call), user=alice)
    assignment = reviewer_assign(application=application, reviewer=reviewer, staff=staff)
    criteria = list(call.criteria.order_by("position"))
    for round_ in range(ROUNDS):
        barrier = threading.Barrier(len(criteria))

        def score(barrier: threading.Barrier, criterion_id: int, value: int) -> None:
            try:
                barrier.wait()
                review_score(
                    assignment=ReviewAssignment.objects.get(pk=assignment.pk),
                    reviewer=reviewer,
                    scores=[ScoreInput(criterion_id, value)],
                )
            finally:
                connection.close()

        values = [1 + (round_ + n) % 5 for n in range(len(criteria))]
        threads = [
            threading.Thread(target=score, args=(barrier, c.pk, v))
            for c, v in zip(criteria, values, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assignment.refresh_from_db()
        expected = sum(c.weight * v for c, v in zip(criteria, values, strict=True))
        assert (assignment.score_x_weight, assignment.weight_total) == (expected, 100)
        assert ReviewScore.objects.filter(assignment=assignment).count() == len(criteria)
        [ranked] = ranked_applications(call=call)
        assert ranked.weighted_score == (Decimal(expected) / 100).quantize(Decimal("0.01"))


@pytest.mark.django_db
def test_a_conflict_declared_while_the_reviewer_scores_stops_the_scores(
    call: Call, alice: User, reviewer: User, staff: User
) -> None:
    application = application_submit(application=draft_for(alice, call), user=alice)
    assignment = reviewer_assign(application=application, reviewer=reviewer, staff=staff)
    loaded = ReviewAssignment.objects.get(pk=assignment.pk)  # the scoring form's read

    review_declare_conflict(assignment=assignment, reviewer=reviewer, reason="Co-author")
    with pytest.raises(Conflict) as refused:
        review_score(
            assignment=loaded,
            reviewer=reviewer,
            scores=[ScoreInput(c.pk, 5) for c in call.criteria.all()],
        )

    assert refused.value.code == "conflict_declared"
    assert not ReviewScore.objects.exists()
    assert ReviewAssignment.objects.get(pk=assignment.pk).score_x_weight is None
