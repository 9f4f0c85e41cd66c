from datetime import datetime
from decimal import Decimal
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from booking.models.gpu_types import GpuType

CRITERION_WEIGHT_MAX = 1000
"""Weights are relative; a thousand times another criterion is more than any call needs."""

DEFAULT_CRITERIA = (
    (_("Scientific or technical excellence"), 50),
    (_("Feasibility"), 30),
    (_("European impact"), 20),
)


class CallKind(models.TextChoices):
    STANDARD = "standard", _("Call for proposals")
    ROLLING = "rolling", _("Rolling access")


class CallState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


class CallStatus(models.TextChoices):
    """What a call shows: its state as staff set it, seen through the one rule of whether it
    accepts applications now (``Call.accepts_submissions``)."""

    DRAFT = "draft", _("Draft")
    UPCOMING = "upcoming", _("Opens soon")
    OPEN = "open", _("Open for applications")
    CLOSED = "closed", _("Closed")


class CallQuerySet(models.QuerySet["Call"]):
    def accepting_submissions(self, now: datetime | None = None) -> "CallQuerySet":
        """The calls ``accepts_submissions`` is true for, in SQL (the same rule, kept beside it
        and tested against it)."""
        now = now or timezone.now()
        return self.filter(state=CallState.OPEN, opens_at__lte=now).filter(
            models.Q(closes_at__isnull=True) | models.Q(closes_at__gt=now)
        )

    def with_status(self, status: str, now: datetime | None = None) -> "CallQuerySet":
        """The calls whose ``status`` is ``status`` now."""
        now = now or timezone.now()
        accepting = self.accepting_submissions(now).values("pk")
        if status == CallStatus.OPEN:
            return self.filter(pk__in=accepting)
        if status == CallStatus.UPCOMING:
            return self.filter(state=CallState.OPEN, opens_at__gt=now)
        if status == CallStatus.CLOSED:
            return (
                self.exclude(state=CallState.DRAFT)
                .exclude(pk__in=accepting)
                .exclude(state=CallState.OPEN, opens_at__gt=now)
            )
        return self.filter(state=CallState.DRAFT)


class Call(models.Model):
    """A call for GPU time: what it offers, who may apply, until when, how it is reviewed."""

    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"))
    kind = models.CharField(_("kind"), max_length=16, choices=CallKind.choices, default="standard")
    state = models.CharField(max_length=16, choices=CallState.choices, default=CallState.DRAFT)
    opens_at = models.DateTimeField(_("opens at"))
    closes_at = models.DateTimeField(_("closes at"), null=True, blank=True)
    allowed_tiers = models.JSONField(_("tiers allowed to apply"), default=list)
    max_request_gpu_hours = models.DecimalField(
        _("maximum request per application (GPU-hours)"), max_digits=14, decimal_places=4
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CallQuerySet.as_manager()

    class Meta:
        ordering = ("-opens_at", "pk")
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(closes_at__isnull=True)
                | models.Q(closes_at__gt=models.F("opens_at")),
                name="call_closes_after_opening",
            ),
            models.CheckConstraint(
                condition=models.Q(kind="rolling") | models.Q(closes_at__isnull=False),
                name="call_standard_has_deadline",
            ),
            models.CheckConstraint(
                condition=models.Q(max_request_gpu_hours__gt=0), name="call_cap_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def accepts_submissions(self, now: datetime | None = None) -> bool:
        """The one rule: opened by staff, past its opening time, before its deadline."""
        now = now or timezone.now()
        return (
            self.state == CallState.OPEN
            and self.opens_at <= now
            and (self.closes_at is None or now < self.closes_at)
        )

    def status(self, now: datetime | None = None) -> CallStatus:
        """What the call shows now; ``open`` exactly when it accepts applications."""
        now = now or timezone.now()
        if self.state == CallState.DRAFT:
            return CallStatus.DRAFT
        if self.accepts_submissions(now):
            return CallStatus.OPEN
        if self.state == CallState.OPEN and now < self.opens_at:
            return CallStatus.UPCOMING
        return CallStatus.CLOSED


class CallPool(models.Model):
    """GPU-hours of one type a call can award; the row is the lock for concurrent awards."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="pools")
    gpu_type = models.ForeignKey(GpuType, on_delete=models.PROTECT, related_name="+")
    gpu_hours = models.DecimalField(max_digits=14, decimal_places=4)
    awarded_gpu_hours = models.DecimalField(max_digits=14, decimal_places=4, default=Decimal(0))

    class Meta:
        ordering = ("gpu_type__name",)
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["call", "gpu_type"], name="call_pool_once_per_type"),
            models.CheckConstraint(
                condition=models.Q(awarded_gpu_hours__lte=models.F("gpu_hours"))
                & models.Q(awarded_gpu_hours__gte=0),
                name="call_pool_never_overawarded",
            ),
            models.CheckConstraint(
                condition=models.Q(gpu_hours__gt=0), name="call_pool_gpu_hours_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.call_id}/{self.gpu_type_id}: {self.gpu_hours} h"

    @property
    def remaining_gpu_hours(self) -> Decimal:
        return self.gpu_hours - self.awarded_gpu_hours


class ReviewCriterion(models.Model):
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="criteria")
    name = models.CharField(max_length=200)
    weight = models.PositiveSmallIntegerField()
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ("position", "pk")
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["call", "name"], name="criterion_once_per_call"),
            models.CheckConstraint(
                condition=models.Q(weight__gt=0), name="criterion_weight_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(weight__lte=CRITERION_WEIGHT_MAX),
                name="criterion_weight_at_most_max",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.weight})"
