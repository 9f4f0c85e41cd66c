"""Review reads: what a reviewer may see, and the staff ranking of a call."""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q, QuerySet, Sum
from django.shortcuts import get_object_or_404

from accounts.models import User
from booking.models import Application, ApplicationState, Call, CallKind, ReviewAssignment

RANKED_STATES = (ApplicationState.SUBMITTED, ApplicationState.UNDER_REVIEW)


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


def _scored(queryset: QuerySet[Application]) -> QuerySet[Application]:
    active = Q(assignments__conflict_declared_at__isnull=True)
    weighted = ExpressionWrapper(
        F("assignments__scores__score") * F("assignments__scores__criterion__weight"),
        output_field=DecimalField(max_digits=12, decimal_places=4),
    )
    return queryset.annotate(
        score_x_weight=Sum(weighted, filter=active),
        weight_total=Sum("assignments__scores__criterion__weight", filter=active),
        reviews=Count(
            "assignments", filter=active & Q(assignments__scores__isnull=False), distinct=True
        ),
    )


def ranked_applications(*, call: Call) -> list[Ranked]:
    """Tier first (priority access), then weighted score; rolling calls go in submission order."""
    applications = _scored(
        Application.objects.filter(call=call, state__in=RANKED_STATES).select_related(
            "organisation", "applicant"
        )
    )
    ranked = [
        Ranked(
            application=a,
            tier=int(a.organisation.priority_tier()),
            weighted_score=_score(a.score_x_weight, a.weight_total),  # type: ignore[attr-defined]
            reviews=a.reviews,  # type: ignore[attr-defined]
        )
        for a in applications
    ]
    if call.kind == CallKind.ROLLING:
        return sorted(ranked, key=lambda r: (r.application.submitted_at, r.application.pk))
    return sorted(
        ranked,
        key=lambda r: (r.tier, -(r.weighted_score or Decimal(-1)), r.application.submitted_at),
    )


def _score(total: Decimal | None, weights: int | None) -> Decimal | None:
    if not total or not weights:
        return None
    return (Decimal(total) / Decimal(weights)).quantize(Decimal("0.01"))
