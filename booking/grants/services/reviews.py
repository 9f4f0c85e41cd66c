"""Peer review: staff assign reviewers, reviewers score or declare a conflict of interest."""

from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, OuterRef, QuerySet, Subquery, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Membership, User
from booking.models import (
    Application,
    ApplicationState,
    ReviewAssignment,
    ReviewCriterion,
    ReviewScore,
)
from booking.notifications.services import notify
from booking.permissions import is_reviewer
from stargate_portal.errors import Conflict, PermissionDenied, ValidationFailed
from stargate_portal.permissions import require_staff

REVIEWABLE = (ApplicationState.SUBMITTED, ApplicationState.UNDER_REVIEW)


@dataclass(frozen=True)
class ScoreInput:
    criterion_id: int
    score: int
    comment: str = ""
    for_applicant: bool = False


def reviewer_assign(*, application: Application, reviewer: User, staff: User) -> ReviewAssignment:
    """Assign a reviewer; never one from the applicant's organisation."""
    require_staff(staff, _("Only staff assign reviewers."))
    if not is_reviewer(reviewer):
        raise ValidationFailed.on_field(
            "reviewer", _("This person does not have the reviewer role.")
        )
    with transaction.atomic():
        locked = Application.objects.select_for_update().get(pk=application.pk)
        if locked.state not in REVIEWABLE:
            raise Conflict(_("Only submitted applications are reviewed."), code="not_reviewable")
        if Membership.objects.filter(
            user=reviewer, organisation_id=locked.organisation_id
        ).exists():
            raise Conflict(
                _("A reviewer from the applicant's organisation cannot be assigned."),
                code="reviewer_conflict_of_interest",
            )
        if locked.applicant_id == reviewer.pk:
            raise Conflict(
                _("Applicants cannot review themselves."), code="reviewer_conflict_of_interest"
            )
        assignment, created = ReviewAssignment.objects.get_or_create(
            application=locked, reviewer=reviewer, defaults={"assigned_by": staff}
        )
        if not created:
            raise Conflict(_("This reviewer is already assigned."), code="already_assigned")
        locked.state = ApplicationState.UNDER_REVIEW
        locked.save(update_fields=["state", "updated_at"])
        notify(
            users=[reviewer],
            subject=_("New review assignment: %(t)s") % {"t": locked.title},
            body=_("Please review this application, or declare a conflict of interest."),
            url=reverse("grants:review_detail", args=[assignment.pk]),
        )
    return assignment


def review_declare_conflict(*, assignment: ReviewAssignment, reviewer: User, reason: str) -> None:
    """The reviewer steps off the application; their scores no longer count."""
    _own_active(assignment, reviewer)
    if not reason.strip():
        raise ValidationFailed.on_field("reason", _("Describe the conflict of interest."))
    ReviewAssignment.objects.filter(pk=assignment.pk).update(
        conflict_declared_at=timezone.now(), conflict_reason=reason.strip()
    )


def review_score(
    *, assignment: ReviewAssignment, reviewer: User, scores: list[ScoreInput]
) -> list[ReviewScore]:
    """Score criteria 1-5 with comments (scoring again replaces the earlier score)."""
    _own_active(assignment, reviewer)
    if assignment.application.state != ApplicationState.UNDER_REVIEW:
        raise Conflict(_("This application is no longer under review."), code="not_reviewable")
    criteria = {
        c.pk: c for c in ReviewCriterion.objects.filter(call_id=assignment.application.call_id)
    }
    errors = {
        f"criterion_{s.criterion_id}": [_("Not a criterion of this call, or not 1-5.")]
        for s in scores
        if s.criterion_id not in criteria or not 1 <= s.score <= 5
    }
    if errors or not scores:
        raise ValidationFailed(_("The scores are invalid; see details."), details=errors)
    with transaction.atomic():
        # One writer of an assignment's scores at a time (the sums stored below are then those
        # of every score committed before them), and none after a conflict declared meanwhile.
        locked = ReviewAssignment.objects.select_for_update().filter(pk=assignment.pk).first()
        if locked is None:
            raise PermissionDenied(_("This is not your assignment."))
        _own_active(locked, reviewer)
        saved = [
            ReviewScore.objects.update_or_create(
                assignment=assignment,
                criterion=criteria[s.criterion_id],
                defaults={
                    "score": s.score,
                    "comment": s.comment.strip(),
                    "for_applicant": s.for_applicant,
                },
            )[0]
            for s in scores
        ]
        review_sums_store(ReviewAssignment.objects.filter(pk=assignment.pk))
    return saved


def review_sums_store(assignments: QuerySet[ReviewAssignment]) -> int:
    """Keep on each of ``assignments`` the two sums of its scores that rankings add up:
    sum (score x weight) and sum (weight), null before any score (one UPDATE). Whatever
    writes scores calls it in the same transaction; a criterion's weight is fixed when its
    call is created, so nothing else changes the sums."""
    scores = ReviewScore.objects.filter(assignment=OuterRef("pk")).order_by().values("assignment")
    return assignments.update(
        score_x_weight=Subquery(
            scores.annotate(total=Sum(F("score") * F("criterion__weight"))).values("total")
        ),
        weight_total=Subquery(scores.annotate(total=Sum("criterion__weight")).values("total")),
    )


def _own_active(assignment: ReviewAssignment, reviewer: User) -> None:
    if assignment.reviewer_id != reviewer.pk:
        raise PermissionDenied(_("This is not your assignment."))
    if not assignment.is_active:
        raise Conflict(_("You declared a conflict of interest."), code="conflict_declared")
