from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from booking.models.applications import Application
from booking.models.calls import ReviewCriterion

REVIEWERS_GROUP = "Reviewers"


class ReviewAssignment(models.Model):
    """A reviewer assigned to an application; a declared conflict takes them off it."""

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="assignments"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="review_assignments"
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    assigned_at = models.DateTimeField(auto_now_add=True)
    conflict_declared_at = models.DateTimeField(null=True, blank=True)
    conflict_reason = models.TextField(blank=True)
    # What the ranking adds up, kept with the scores (``review_sums_store``): sum (score x
    # weight) and sum (weight) of this reviewer's scores; both null before any score.
    score_x_weight = models.PositiveIntegerField(null=True, editable=False)
    weight_total = models.PositiveIntegerField(null=True, editable=False)

    class Meta:
        ordering = ("assigned_at", "pk")
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["application", "reviewer"], name="assignment_once"),
        ]

    def __str__(self) -> str:
        return f"{self.reviewer_id} reviews {self.application_id}"

    @property
    def is_active(self) -> bool:
        return self.conflict_declared_at is None


class ReviewScore(models.Model):
    assignment = models.ForeignKey(
        ReviewAssignment, on_delete=models.CASCADE, related_name="scores"
    )
    criterion = models.ForeignKey(ReviewCriterion, on_delete=models.PROTECT, related_name="+")
    score = models.PositiveSmallIntegerField(_("score (1-5)"))
    comment = models.TextField(_("comment"), blank=True)
    for_applicant = models.BooleanField(_("show the comment to the applicant"), default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("criterion__position", "pk")
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["assignment", "criterion"], name="score_once"),
            models.CheckConstraint(
                condition=models.Q(score__gte=1, score__lte=5), name="score_between_1_and_5"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.criterion_id}: {self.score}"
