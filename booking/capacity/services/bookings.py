"""Creating, cancelling and refunding bookings.

Money: a booking's GPU-hours (nodes x GPUs per node x hours) are held at creation
(``booking-<uuid>-hold``). Cancelling at least ``CAPACITY_FULL_REFUND_HOURS`` before the start
releases them (``-release``); later, they are charged (``-release`` then ``-charge``) unless staff
override with a reason. A booking already charged is given back only by a staff refund
(``-refund``). The keys make every movement happen once, whatever retries.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.models import User
from booking.capacity import tasks
from booking.capacity.availability import nearest_free_windows
from booking.capacity.clock import booking_now
from booking.capacity.counters import (
    HoursMissing,
    hours_add,
    hours_lock,
    hours_make,
    hours_short,
    hours_take,
)
from booking.capacity.policies import policy_for
from booking.capacity.reservations import reservation_lead
from booking.capacity.rules import (
    BookingHorizon,
    booking_horizon,
    full_refund_due,
    window_check,
)
from booking.ledger.services import ledger_charge, ledger_hold, ledger_refund, ledger_release
from booking.models import (
    Allocation,
    BookingState,
    CapacityAuditAction,
    CapacityAuditEntry,
    CapacityBooking,
    CapacityPolicy,
    GpuType,
    Project,
    ProjectState,
)
from booking.models.capacity import HOUR
from booking.notifications.services import notify
from booking.permissions import (
    can_book_capacity,
    can_book_capacity_expression,
    can_cancel_booking,
    project_managers,
)
from booking.scheduler.hours import hold_gpu_hours
from stargate_portal.errors import Conflict, DomainError, PermissionDenied, ValidationFailed
from stargate_portal.permissions import is_staff, require_staff
from stargate_portal.task_enqueue import task_enqueue_on_commit

LEDGER_REFUSALS = {"insufficient_gpu_hours": "insufficient_balance"}
"""Ledger codes a booking reports under its own name."""


@dataclass(frozen=True)
class BookingCreation:
    booking: CapacityBooking
    created: bool


class _HoursTaken(Exception):
    """Some hours of the window lack free nodes (raised inside the locked transaction)."""

    def __init__(self, short: list[tuple[datetime, int]] | None = None) -> None:
        self.short = short or []


def booking_gpu_hours(*, node_count: int, gpus_per_node: int, hours: int) -> Decimal:
    """What a booking costs: every GPU of its nodes for every hour of its window."""
    return hold_gpu_hours(node_count * gpus_per_node, hours * 60)


def project_booking_horizon(
    project: Project, policy: CapacityPolicy, now: datetime
) -> BookingHorizon:
    """When the project may book the policy's GPU type now (its tier's horizon)."""
    tier = int(project.priority_tier())
    return booking_horizon(now=now, tier=tier, horizon_days=policy.horizon_days(tier))


def booking_create(
    *,
    user: User,
    project: Project,
    gpu_type: GpuType,
    node_count: int,
    starts_at: datetime,
    ends_at: datetime,
    name: str = "",
    idempotency_key: str = "",
    now: datetime | None = None,
) -> BookingCreation:
    """Book ``node_count`` whole nodes for ``[starts_at, ends_at)``; hold their GPU-hours.

    Refusals: ``not_aligned``, ``too_long``, ``outside_booking_horizon``,
    ``exceeds_bookable_pool``, ``no_allocation``, ``outside_allocation``,
    ``insufficient_balance``, ``capacity_unavailable`` (with the nearest free windows)."""
    now = now or booking_now()
    fingerprint = _fingerprint(project, gpu_type, node_count, starts_at, ends_at, name)
    replay = _replay(user, idempotency_key, fingerprint)
    if replay is not None:
        return BookingCreation(replay, created=False)
    allocation = (
        Allocation.objects.select_related("gpu_type__capacity_policy")
        .annotate(may_book=can_book_capacity_expression(user))
        .filter(project=project, gpu_type=gpu_type)
        .first()
    )
    may_book = allocation.may_book if allocation else can_book_capacity(user, project)
    if not may_book:
        raise PermissionDenied(_("Only the project's PI and managers book nodes."))
    if project.state == ProjectState.SUSPENDED:
        raise Conflict(_("The project is suspended."), code="project_suspended")
    policy = _policy_of(allocation) or policy_for(gpu_type)
    horizon = project_booking_horizon(project, policy, now)
    window_check(starts_at=starts_at, ends_at=ends_at, horizon=horizon)
    _check_size(node_count, policy.pool_nodes, gpu_type)
    _check_allocation(allocation, gpu_type, ends_at)
    hours = int((ends_at - starts_at).total_seconds() // 3600)
    cost = booking_gpu_hours(
        node_count=node_count, gpus_per_node=gpu_type.gpus_per_node, hours=hours
    )
    booking = CapacityBooking(
        project=project,
        gpu_type=gpu_type,
        name=name.strip()[:200],
        node_count=node_count,
        gpus_per_node=gpu_type.gpus_per_node,
        starts_at=starts_at,
        ends_at=ends_at,
        gpu_hours=cost,
        created_by=user,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint if idempotency_key else "",
    )
    try:
        _book(booking, policy.pool_nodes, now)
    except _HoursTaken as taken:
        raise _capacity_refusal(booking, policy.pool_nodes, horizon, taken.short) from None
    except IntegrityError:
        replay = _replay(user, idempotency_key, fingerprint)
        if replay is None:
            raise
        return BookingCreation(replay, created=False)
    return BookingCreation(booking, created=True)


def _book(booking: CapacityBooking, pool_nodes: int, now: datetime) -> None:
    """Take every hour of the window and hold the hours (the ledger refuses what the balance
    cannot cover): one transaction. When an hour was short it is rolled back and the hours
    are read (unlocked) to say which; missing counter rows are made (outside it, holding no
    lock) and the booking tried again, as it is when the short hours freed up meanwhile."""
    for attempt in range(3):
        try:
            _book_once(booking, pool_nodes, now)
            return
        except _HoursTaken:
            window = (booking.gpu_type, booking.starts_at, booking.ends_at)
            try:
                short = hours_short(*window, booking.node_count, pool_nodes)
            except HoursMissing:
                hours_make(*window)
                continue
            if short or attempt == 2:
                raise _HoursTaken(short) from None
    raise _HoursTaken


def _book_once(booking: CapacityBooking, pool_nodes: int, now: datetime) -> None:
    with transaction.atomic():
        if not hours_take(
            booking.gpu_type, booking.starts_at, booking.ends_at, booking.node_count, pool_nodes
        ):
            raise _HoursTaken  # rolls back what was added; why is read after it
        booking.save()
        try:
            ledger_hold(
                project=booking.project,
                gpu_type=booking.gpu_type,
                gpu_hours=booking.gpu_hours,
                key=f"{booking.ledger_key_prefix}-hold",
                actor=booking.created_by,
                reason=_("Booking %(pk)s") % {"pk": booking.pk},
                at=now,
            )
        except DomainError as refused:
            refused.code = LEDGER_REFUSALS.get(refused.code, refused.code)
            raise
        if booking.starts_at <= now + reservation_lead():
            # Later ones are reserved by the beat task when their start comes near.
            task_enqueue_on_commit(tasks.booking_reserve, booking.pk)


def _capacity_refusal(
    booking: CapacityBooking,
    pool_nodes: int,
    horizon: BookingHorizon,
    short: list[tuple[datetime, int]],
) -> Conflict:
    before, after = nearest_free_windows(
        gpu_type=booking.gpu_type,
        pool_nodes=pool_nodes,
        node_count=booking.node_count,
        hours=booking.hours,
        starts_at=booking.starts_at,
        earliest=horizon.earliest,
        latest=horizon.latest,
    )
    return Conflict(
        _(
            "%(n)s free %(gpu)s nodes are not bookable in every hour of this window "
            "(%(short)s of its hours have fewer)."
        )
        % {"n": booking.node_count, "gpu": booking.gpu_type.name, "short": len(short)},
        code="capacity_unavailable",
        details={
            "pool_nodes": pool_nodes,
            "short_hours": [
                {"starts_at": hour.isoformat(), "free_nodes": free} for hour, free in short[:24]
            ],
            "nearest_before": before.as_dict() if before else None,
            "nearest_after": after.as_dict() if after else None,
        },
    )


def _check_size(node_count: int, pool_nodes: int, gpu_type: GpuType) -> None:
    if node_count < 1:
        raise ValidationFailed.on_field("node_count", _("Book at least one node."))
    if node_count > pool_nodes:
        raise Conflict(
            _("At most %(n)s %(gpu)s nodes can be booked in any hour.")
            % {"n": pool_nodes, "gpu": gpu_type.name},
            code="exceeds_bookable_pool",
            details={"pool_nodes": pool_nodes},
        )


def _policy_of(allocation: Allocation | None) -> CapacityPolicy | None:
    """The GPU type's policy read with the allocation (one query less), when it exists."""
    if allocation is None:
        return None
    try:
        return allocation.gpu_type.capacity_policy
    except CapacityPolicy.DoesNotExist:
        return None


def _check_allocation(allocation: Allocation | None, gpu_type: GpuType, ends_at: datetime) -> None:
    if allocation is None:
        raise Conflict(
            _("The project has no allocation for %(gpu)s.") % {"gpu": gpu_type.name},
            code="no_allocation",
        )
    if (ends_at - HOUR).astimezone(UTC).date() > allocation.ends_on:
        raise Conflict(
            _("The project's %(gpu)s allocation ends on %(date)s, before this booking does.")
            % {"gpu": gpu_type.name, "date": allocation.ends_on.isoformat()},
            code="outside_allocation",
            details={"allocation_ends_on": allocation.ends_on.isoformat()},
        )


def _fingerprint(
    project: Project,
    gpu_type: GpuType,
    node_count: int,
    starts_at: datetime,
    ends_at: datetime,
    name: str,
) -> str:
    fields: dict[str, Any] = {
        "project": project.pk,
        "gpu_type": gpu_type.pk,
        "node_count": node_count,
        "starts_at": starts_at.isoformat(),
        "ends_at": ends_at.isoformat(),
        "name": name.strip(),
    }
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def _replay(user: User, key: str, fingerprint: str) -> CapacityBooking | None:
    """The booking this user already made with ``key``; a different one is refused."""
    if not key:
        return None
    earlier = CapacityBooking.objects.filter(created_by=user, idempotency_key=key).first()
    if earlier is not None and earlier.request_fingerprint != fingerprint:
        raise Conflict(
            _("This Idempotency-Key was already used for another booking."),
            code="idempotency_key_reused",
            details={"booking_id": earlier.pk},
        )
    return earlier


# -- cancel and refund -----------------------------------------------------------------------


def booking_cancel(
    *,
    booking: CapacityBooking,
    user: User,
    reason: str = "",
    refund: bool = False,
    now: datetime | None = None,
) -> CapacityBooking:
    """Cancel a booking and free its nodes. At least the refund period before the start the
    held hours are released; later they are charged, unless staff refund them (``refund``,
    with a reason). Staff always give a reason; their cancellations are audited."""
    now = now or booking_now()
    reason = reason.strip()
    if not can_cancel_booking(user, booking.project):
        raise PermissionDenied(_("Only the project's PI and managers cancel its bookings."))
    staff = is_staff(user)
    if refund and not staff:
        raise PermissionDenied(_("Only staff refund a late cancellation."))
    if staff and not reason:
        raise ValidationFailed.on_field("reason", _("Say why you cancel this booking."))
    with transaction.atomic():
        locked = _locked(booking)
        if (
            locked.state not in (BookingState.CONFIRMED, BookingState.ACTIVE)
            or now >= locked.ends_at
        ):
            raise Conflict(_("This booking can no longer be cancelled."), code="not_cancellable")
        before = _money_state(locked)
        hours_lock(locked.gpu_type, locked.starts_at, locked.ends_at)
        hours_add(locked.gpu_type, locked.starts_at, locked.ends_at, -locked.node_count)
        _settle_cancellation(locked, user, now, refund=refund)
        locked.state = BookingState.CANCELLED
        locked.cancelled_at = now
        locked.cancelled_by = user
        locked.cancel_reason = reason[:500]
        locked.save()
        if staff:
            _audit(locked, user, CapacityAuditAction.BOOKING_CANCELLED, reason, before)
            _tell_project(locked, _("Staff cancelled your booking %(pk)s"), reason)
        task_enqueue_on_commit(tasks.booking_unreserve, locked.pk)
    return locked


def _settle_cancellation(
    booking: CapacityBooking, user: User, now: datetime, *, refund: bool
) -> None:
    """The ledger side of a cancellation (the booking row is locked)."""
    if booking.charged_at is None:
        _release(booking, user)
        if refund or full_refund_due(starts_at=booking.starts_at, now=now):
            booking.released_at = now
        else:
            _charge(booking, user, _("Cancelled after the refund deadline"))
            booking.charged_at = now
    elif refund:
        _refund(booking, user)
        booking.refunded_at = now


def booking_refund(
    *, booking: CapacityBooking, staff: User, reason: str, now: datetime | None = None
) -> CapacityBooking:
    """Staff give back the charged hours of a booking (a late cancellation, an outage)."""
    require_staff(staff)
    reason = reason.strip()
    if not reason:
        raise ValidationFailed.on_field("reason", _("Say why you refund this booking."))
    now = now or booking_now()
    with transaction.atomic():
        locked = _locked(booking)
        if locked.charged_at is None or locked.refunded_at is not None:
            raise Conflict(
                _("Only a charged booking that was not refunded yet can be refunded."),
                code="not_refundable",
            )
        before = _money_state(locked)
        _refund(locked, staff)
        locked.refunded_at = now
        locked.save(update_fields=["refunded_at"])
        _audit(locked, staff, CapacityAuditAction.BOOKING_REFUNDED, reason, before)
        _tell_project(locked, _("Staff refunded your booking %(pk)s"), reason)
    return locked


def _locked(booking: CapacityBooking) -> CapacityBooking:
    return (
        CapacityBooking.objects.select_for_update(of=("self",))
        .select_related("project", "gpu_type")
        .get(pk=booking.pk)
    )


def _release(booking: CapacityBooking, user: User | None) -> None:
    ledger_release(
        project=booking.project,
        gpu_type=booking.gpu_type,
        gpu_hours=booking.gpu_hours,
        key=f"{booking.ledger_key_prefix}-release",
        actor=user,
        reason=_("Booking %(pk)s") % {"pk": booking.pk},
    )


def _charge(booking: CapacityBooking, user: User | None, why: str) -> None:
    ledger_charge(
        project=booking.project,
        gpu_type=booking.gpu_type,
        gpu_hours=booking.gpu_hours,
        key=f"{booking.ledger_key_prefix}-charge",
        actor=user,
        reason=f"{_('Booking %(pk)s') % {'pk': booking.pk}}: {why}",
    )


def _refund(booking: CapacityBooking, user: User) -> None:
    ledger_refund(
        project=booking.project,
        gpu_type=booking.gpu_type,
        gpu_hours=booking.gpu_hours,
        key=f"{booking.ledger_key_prefix}-refund",
        actor=user,
        reason=_("Booking %(pk)s refunded by staff") % {"pk": booking.pk},
    )


def _money_state(booking: CapacityBooking) -> dict[str, Any]:
    return {
        "state": booking.state,
        "charged": booking.charged_at is not None,
        "released": booking.released_at is not None,
        "refunded": booking.refunded_at is not None,
    }


def _audit(
    booking: CapacityBooking, staff: User, action: str, reason: str, before: dict[str, Any]
) -> None:
    CapacityAuditEntry.objects.create(
        gpu_type=booking.gpu_type,
        booking=booking,
        action=action,
        actor=staff,
        reason=reason,
        before=before,
        after=_money_state(booking),
    )


def _tell_project(booking: CapacityBooking, subject: str, reason: str) -> None:
    notify(
        users=project_managers(booking.project),
        subject=subject % {"pk": booking.pk},
        body=_("Reason: %(reason)s") % {"reason": reason},
        url=reverse("capacity:booking_detail", args=[booking.pk]),
    )
