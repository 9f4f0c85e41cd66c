"""Review reads: what a reviewer may see, the weighted scores, the staff ranking of a call,
and the comments an applicant may read.

Weighted score = sum (score x weight) / sum (weight) over the scores of active reviewers (a
declared conflict of interest takes a reviewer's scores out), to two decimals.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.shortcuts import get_object_or_404

from accounts.models import Organisation, User
from booking.models import (
    Application,
    ApplicationRequest,
    ApplicationState,
    Call,
    CallKind,
    ReviewAssignment,
)

RANKED_STATES = (ApplicationState.SUBMITTED, ApplicationState.UNDER_REVIEW)
ACTIVE = Q(assignments__conflict_declared_at__isnull=True)
"""Scores count only from reviewers who did not declare a conflict of interest."""


@dataclass(frozen=True)
class Ranked:
    application: Application
    tier: int
    weighted_score: Decimal | None
    reviews: int


def assignments_of(reviewer: User) -> QuerySet[ReviewAssignment]:
    """A reviewer's active assignments (declared conflicts drop out)."""
    return (
        ReviewAssignment.objects.filter(reviewer=reviewer, conflict_declared_at__isnull=True)
        .select_related("application__call")
        .order_by("-assigned_at", "-pk")
    )


def assignment_of(reviewer: User, pk: int) -> ReviewAssignment:
    return get_object_or_404(assignments_of(reviewer), pk=pk)


def weighted_score(
    score_x_weight: Decimal | int | None, weight_total: int | None
) -> Decimal | None:
    """The weighted score from its two sums; None before any score."""
    if not score_x_weight or not weight_total:
        return None
    return (Decimal(score_x_weight) / Decimal(weight_total)).quantize(Decimal("0.01"))


def _scored(queryset: QuerySet[Application, Any]) -> QuerySet[Application, Any]:
    """Each application's two sums over its active reviewers (kept on each assignment by
    ``review_sums_store``: one row per reviewer, not one per score), and how many of them
    scored."""
    return queryset.annotate(
        score_x_weight=Sum("assignments__score_x_weight", filter=ACTIVE),
        weight_total=Sum("assignments__weight_total", filter=ACTIVE),
        reviews=Count("assignments", filter=ACTIVE & Q(assignments__weight_total__isnull=False)),
    )


def application_scores(
    application: Application,
) -> tuple[Decimal | None, dict[int, Decimal | None]]:
    """The application's weighted score, and each assignment's own (conflicted ones too, for
    staff). Two queries."""
    row = _scored(Application.objects.filter(pk=application.pk).values("pk")).first()
    row = row or _NOT_SCORED
    per_assignment = ReviewAssignment.objects.filter(application=application).values_list(
        "pk", "score_x_weight", "weight_total"
    )
    return (
        weighted_score(row["score_x_weight"], row["weight_total"]),
        {pk: weighted_score(total, weights) for pk, total, weights in per_assignment},
    )


def comments_for_applicant(application: Application) -> list[dict[str, Any]]:
    """Comments reviewers chose to share, after the decision; never who wrote them."""
    if application.decided_at is None:
        return []
    return [
        {"criterion": score.criterion.name, "score": score.score, "comment": score.comment}
        for assignment in application.assignments.all()
        if assignment.is_active
        for score in assignment.scores.all()
        if score.for_applicant and score.comment
    ]


RANKED_FIELDS = (
    "id",
    "call_id",
    "title",
    "state",
    "submitted_at",
    "organisation_id",
    "applicant_id",
)
"""What the ranking reads of an application: not its texts, which a call of thousands of
applications would otherwise load whole to show 25 (a page prefetches its applicants)."""

_NOT_SCORED = {"score_x_weight": None, "weight_total": None, "reviews": 0}


def ranked_applications(*, call: Call) -> list[Ranked]:
    """Tier first (priority access), then weighted score; rolling calls go in submission order.

    O(the call's ranked applications), which a ranking is, in three queries: their scores
    summed per application, the applications (``RANKED_FIELDS``) and their organisations, each
    read and its tier worked out once."""
    ranked_here = Application.objects.filter(call=call, state__in=RANKED_STATES)
    # Summed per application alone (grouped by its key, not by every column it is read with).
    sums = {row["pk"]: row for row in _scored(ranked_here.values("pk"))}
    applications = list(ranked_here.only(*RANKED_FIELDS))
    organisations = Organisation.objects.in_bulk({a.organisation_id for a in applications})
    tiers = {pk: int(o.priority_tier()) for pk, o in organisations.items()}
    ranked = []
    for a in applications:
        a.organisation = organisations[a.organisation_id]
        # An application submitted between the queries has no scores yet.
        scored = sums.get(a.pk, _NOT_SCORED)
        ranked.append(
            Ranked(
                application=a,
                tier=tiers[a.organisation_id],
                weighted_score=weighted_score(scored["score_x_weight"], scored["weight_total"]),
                reviews=scored["reviews"],
            )
        )
    if call.kind == CallKind.ROLLING:
        return sorted(ranked, key=lambda r: (r.application.submitted_at, r.application.pk))
    return sorted(
        ranked,
        key=lambda r: (r.tier, -(r.weighted_score or Decimal(-1)), r.application.submitted_at),
    )


def ranked_requests(*, call: Call) -> dict[int, dict[str, Decimal]]:
    """What each ranked application of ``call`` requests: application id -> GPU type name ->
    GPU-hours, in one query of values (for the whole ranking; a page prefetches its own)."""
    requested: dict[int, dict[str, Decimal]] = {}
    rows = ApplicationRequest.objects.filter(
        application__call=call, application__state__in=RANKED_STATES
    ).values_list("application_id", "gpu_type__name", "gpu_hours")
    for application_id, gpu_type, hours in rows.order_by("application_id", "gpu_type__name"):
        requested.setdefault(application_id, {})[gpu_type] = hours
    return requested
