"""Capacity bookings: whole nodes of one GPU type reserved for a project for a time window.

- ``CapacityPolicy``: per GPU type, the bookable pool (a share of its nodes) and how far ahead
  each priority tier may book; staff change it, each change in ``CapacityAuditEntry``.
- ``CapacityHour``: per GPU type and hour, the nodes booked in that hour. It is the counter
  that keeps bookings within the pool: a booking locks the rows of its hours in time order.
- ``CapacityBooking``: the booking itself, its window, price, state and (once the cluster set
  the nodes aside) its node indices.
- ``CalendarFeed``: a member's secret address of the project's bookings as iCalendar.
"""

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import ClassVar

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from booking.models.gpu_types import GpuType
from booking.models.projects import Project

HARD_MAX_BOOKING_HOURS = 14 * 24
"""The database refuses longer windows; ``CAPACITY_BOOKING_MAX_HOURS`` is checked by the
service with a specific code."""
HOUR = timedelta(hours=1)


class CapacityPolicy(models.Model):
    """How much of a GPU type can be booked, and how far ahead each tier may book it."""

    gpu_type = models.OneToOneField(
        GpuType, on_delete=models.CASCADE, related_name="capacity_policy"
    )
    pool_share = models.DecimalField(
        _("bookable share of the nodes"),
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.250"),
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(1))],
        help_text=_("At most this share of the GPU type's nodes may be booked in any hour."),
    )
    horizon_days_tier_1 = models.PositiveSmallIntegerField(_("tier 1 books up to (days)"))
    horizon_days_tier_2 = models.PositiveSmallIntegerField(_("tier 2 books up to (days)"))
    horizon_days_tier_3 = models.PositiveSmallIntegerField(_("tier 3 books up to (days)"))
    horizon_days_tier_4 = models.PositiveSmallIntegerField(_("tier 4 books up to (days)"))
    site_nodes = models.PositiveIntegerField(
        _("nodes on the site"),
        default=0,
        help_text=_("The GPU type's nodes as the cluster last reported them."),
    )
    site_nodes_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("gpu_type__name",)
        verbose_name_plural = _("capacity policies")
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(pool_share__gte=0, pool_share__lte=1),
                name="capacity_policy_share_is_a_fraction",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    horizon_days_tier_1__gte=1,
                    horizon_days_tier_1__lte=365,
                    horizon_days_tier_2__gte=1,
                    horizon_days_tier_2__lte=365,
                    horizon_days_tier_3__gte=1,
                    horizon_days_tier_3__lte=365,
                    horizon_days_tier_4__gte=1,
                    horizon_days_tier_4__lte=365,
                ),
                name="capacity_policy_horizons_within_a_year",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.gpu_type_id}: {self.pool_share} of {self.site_nodes} nodes"

    @property
    def pool_nodes(self) -> int:
        """Nodes that may be booked in any one hour: the share of the site's nodes, rounded
        down."""
        return int(self.pool_share * self.site_nodes)

    def horizon_days(self, tier: int) -> int:
        return int(getattr(self, f"horizon_days_tier_{tier}"))

    def horizons(self) -> dict[int, int]:
        return {tier: self.horizon_days(tier) for tier in (1, 2, 3, 4)}


class CapacityHour(models.Model):
    """Nodes of one GPU type booked during the hour starting at ``hour`` (UTC).

    Equals the node counts of the bookings that are not cancelled and cover the hour. Rows are
    created when a booking first needs them and locked in ``hour`` order, so concurrent
    bookings of overlapping windows wait for each other instead of overbooking.
    """

    gpu_type = models.ForeignKey(GpuType, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    booked_nodes = models.PositiveIntegerField(default=0)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["gpu_type", "hour"], name="capacity_hour_once"),
            models.CheckConstraint(
                condition=models.Q(booked_nodes__gte=0), name="capacity_hour_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.gpu_type_id} {self.hour:%Y-%m-%d %H:%M}: {self.booked_nodes}"


def reservation_name(booking_uuid: uuid.UUID | str) -> str:
    """A booking's name on the cluster; its jobs are submitted into it by this name."""
    return f"booking-{booking_uuid}"


class BookingState(models.TextChoices):
    CONFIRMED = "confirmed", _("Confirmed")
    """Hours held; the window has not started."""
    ACTIVE = "active", _("Active")
    """The window is running; the hours are charged."""
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")


LIVE_BOOKING_STATES = (BookingState.CONFIRMED, BookingState.ACTIVE)


class CapacityBooking(models.Model):
    """Whole nodes of one GPU type booked by a project for ``[starts_at, ends_at)``.

    Its GPU-hours (nodes x GPUs per node x hours) are held at creation and charged when the
    window starts. Jobs run in it (``Job.booking``); the cluster knows it
    by ``reservation_name``, and ``node_indices`` are the nodes it set aside.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="bookings")
    gpu_type = models.ForeignKey(GpuType, on_delete=models.PROTECT, related_name="bookings")
    name = models.CharField(_("name"), max_length=200, blank=True)
    node_count = models.PositiveIntegerField(_("nodes"))
    gpus_per_node = models.PositiveSmallIntegerField()
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    gpu_hours = models.DecimalField(max_digits=14, decimal_places=4)
    state = models.CharField(
        max_length=16, choices=BookingState.choices, default=BookingState.CONFIRMED
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    idempotency_key = models.CharField(max_length=200, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)

    charged_at = models.DateTimeField(null=True, blank=True)
    charge_problem = models.CharField(
        max_length=64, blank=True, help_text=_("Why the ledger refused the charge at the start.")
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cancel_reason = models.CharField(max_length=500, blank=True)
    released_at = models.DateTimeField(
        null=True, blank=True, help_text=_("The held hours went back without a charge.")
    )
    refunded_at = models.DateTimeField(
        null=True, blank=True, help_text=_("Staff gave back the charged hours.")
    )

    node_indices = models.JSONField(null=True, blank=True)
    reserved_at = models.DateTimeField(null=True, blank=True)
    unreserved_at = models.DateTimeField(null=True, blank=True)
    ending_notified_at = models.DateTimeField(
        null=True, blank=True, help_text=_("The project was told its booked jobs stop soon.")
    )

    class Meta:
        ordering = ("starts_at", "pk")
        indexes: ClassVar = [
            models.Index(fields=["project", "starts_at"], name="booking_project_start"),
            models.Index(fields=["gpu_type", "starts_at"], name="booking_type_start"),
            models.Index(fields=["state", "starts_at"], name="booking_state_start"),
            models.Index(fields=["state", "ends_at"], name="booking_state_end"),
            # Reservations still to drop (the beat task asks every minute).
            models.Index(
                fields=["state"],
                condition=models.Q(reserved_at__isnull=False, unreserved_at__isnull=True),
                name="booking_reserved_not_dropped",
            ),
        ]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="booking_ends_after_start",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    ends_at__lte=models.F("starts_at") + timedelta(hours=HARD_MAX_BOOKING_HOURS)
                ),
                name="booking_at_most_fourteen_days",
            ),
            models.CheckConstraint(
                condition=models.Q(node_count__gte=1, gpus_per_node__gte=1, gpu_hours__gt=0),
                name="booking_positive_figures",
            ),
            models.CheckConstraint(
                condition=models.Q(state__in=BookingState.values),
                name="booking_state_known",
            ),
            models.UniqueConstraint(
                fields=["created_by", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="booking_idempotency_key_once_per_user",
            ),
        ]

    def __str__(self) -> str:
        start = f"{self.starts_at:%Y-%m-%d %H:%M}"
        return f"booking {self.pk}: {self.node_count} x {self.gpu_type_id} from {start}"

    @property
    def hours(self) -> int:
        return int((self.ends_at - self.starts_at) / HOUR)

    @property
    def gpus(self) -> int:
        return self.node_count * self.gpus_per_node

    @property
    def reservation_name(self) -> str:
        """The booking's name on the cluster (a Slurm reservation, the simulator's)."""
        return reservation_name(self.uuid)

    @property
    def ledger_key_prefix(self) -> str:
        return f"booking-{self.uuid}"

    def is_open(self, at: datetime) -> bool:
        """Jobs of the booking may run at ``at``."""
        return self.state in LIVE_BOOKING_STATES and self.starts_at <= at < self.ends_at


class CalendarFeed(models.Model):
    """A member's secret address of a project's bookings (iCalendar). Only a digest of the
    token is kept; revoking it (or leaving the project) ends the address."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="calendar_feeds")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feeds"
    )
    token_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-pk")
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["project", "user"],
                condition=models.Q(revoked_at__isnull=True),
                name="calendar_feed_one_live_per_member",
            ),
        ]

    def __str__(self) -> str:
        return f"feed of {self.project_id} for {self.user_id}"


class CapacityAuditAction(models.TextChoices):
    POLICY_CHANGED = "policy_changed", _("Pool or horizons changed")
    BOOKING_CANCELLED = "booking_cancelled", _("Booking cancelled by staff")
    BOOKING_REFUNDED = "booking_refunded", _("Booking refunded by staff")


class CapacityAuditEntry(models.Model):
    """Who changed a GPU type's booking rules, or overrode a booking, when and why."""

    gpu_type = models.ForeignKey(GpuType, on_delete=models.PROTECT, related_name="+")
    booking = models.ForeignKey(
        CapacityBooking,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_entries",
    )
    action = models.CharField(max_length=32, choices=CapacityAuditAction.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField()
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ("-created_at", "-pk")
        verbose_name_plural = _("capacity audit entries")
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=~models.Q(reason=""), name="capacity_audit_entry_has_a_reason"
            ),
            models.CheckConstraint(
                condition=models.Q(action="policy_changed", booking__isnull=True)
                | (~models.Q(action="policy_changed") & models.Q(booking__isnull=False)),
                name="capacity_audit_entry_booking_iff_override",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.gpu_type_id} {self.action} at {self.created_at:%Y-%m-%d %H:%M}"
