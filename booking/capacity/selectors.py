"""Reads of capacity bookings: what a person may see (a foreign booking is 404), a booking's
ledger entries, the console's timeline, calendar feeds."""

import hashlib
from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import User
from booking.models import (
    HARD_MAX_BOOKING_HOURS,
    BookingState,
    CalendarFeed,
    CapacityAuditEntry,
    CapacityBooking,
    GpuType,
    Job,
    LedgerEntry,
    Project,
    ProjectMember,
)
from booking.permissions import MANAGING_ROLES
from stargate_portal.permissions import is_staff


def bookings_of(user: User) -> QuerySet[CapacityBooking]:
    """Bookings of the projects the user is a member of (staff: every booking)."""
    qs = CapacityBooking.objects.select_related("project", "gpu_type", "created_by")
    if not is_staff(user):
        qs = qs.filter(project__members__user=user)
    return qs.order_by("-starts_at", "-pk")


def member_bookings(user: User) -> QuerySet[CapacityBooking]:
    """Bookings of the user's own projects (staff too: only their own)."""
    return bookings_of(user).filter(project__members__user=user)


def booking_of(user: User, pk: int) -> CapacityBooking:
    return get_object_or_404(bookings_of(user), pk=pk)


def booking_jobs(booking: CapacityBooking, *, limit: int = 50) -> list[Job]:
    """The latest jobs submitted into a booking (the booking's page lists them)."""
    return list(booking.jobs.order_by("-submitted_at", "-pk")[:limit])


def bookable_projects(user: User) -> QuerySet[Project]:
    """Projects the user may book nodes for (PI and managers)."""
    memberships = ProjectMember.objects.filter(user=user, role__in=MANAGING_ROLES)
    return Project.objects.filter(pk__in=memberships.values("project_id")).order_by("name", "pk")


def booking_ledger_entries(booking: CapacityBooking) -> QuerySet[LedgerEntry]:
    """The booking's hold, release, charge and refund, oldest first."""
    return (
        LedgerEntry.objects.filter(project_id=booking.project_id)
        .filter(idempotency_key__startswith=f"{booking.ledger_key_prefix}-")
        .select_related("gpu_type", "actor")
        .order_by("created_at", "pk")
    )


def bookings_overlapping(
    gpu_type: GpuType, starts_at: datetime, ends_at: datetime
) -> QuerySet[CapacityBooking]:
    """Bookings (not cancelled) of a GPU type that overlap ``[starts_at, ends_at)``, by start.

    A booking lasts at most 14 days, so only those starting after ``starts_at`` minus that are
    read (an indexed range, not a scan of every booking)."""
    return (
        CapacityBooking.objects.filter(
            gpu_type=gpu_type,
            starts_at__gte=starts_at - timedelta(hours=HARD_MAX_BOOKING_HOURS),
            starts_at__lt=ends_at,
            ends_at__gt=starts_at,
        )
        .exclude(state=BookingState.CANCELLED)
        .select_related("project")
        .order_by("starts_at", "pk")
    )


def project_calendar_bookings(project: Project, *, now: datetime) -> QuerySet[CapacityBooking]:
    """What a project's calendar shows: bookings ending from 30 days ago on (cancelled ones
    too, so calendars drop them), at most 1,000."""
    return (
        CapacityBooking.objects.filter(project=project, ends_at__gte=now - timedelta(days=30))
        .select_related("gpu_type", "project")
        .order_by("starts_at", "pk")[:1000]
    )


def token_digest(token: str) -> str:
    """What a calendar feed keeps of its token."""
    return hashlib.sha256(token.encode()).hexdigest()


def feeds_of(user: User) -> QuerySet[CalendarFeed]:
    """The user's calendar addresses that still work, by project."""
    return (
        CalendarFeed.objects.filter(user=user, revoked_at__isnull=True)
        .select_related("project")
        .order_by("project__name", "pk")
    )


def feed_for_token(token: str) -> CalendarFeed | None:
    """The live feed of ``token`` whose owner is still a member of its project (or staff)."""
    feed = (
        CalendarFeed.objects.filter(token_digest=token_digest(token), revoked_at__isnull=True)
        .select_related("project", "user")
        .first()
    )
    if feed is None or not feed.user.is_active:
        return None
    still_member = ProjectMember.objects.filter(project=feed.project, user=feed.user).exists()
    return feed if still_member or is_staff(feed.user) else None


def capacity_audit_trail(gpu_type: GpuType | None = None) -> QuerySet[CapacityAuditEntry]:
    """Staff only: policy changes and booking overrides, newest first."""
    qs = CapacityAuditEntry.objects.select_related("gpu_type", "actor", "booking__project")
    if gpu_type is not None:
        qs = qs.filter(gpu_type=gpu_type)
    return qs.order_by("-created_at", "-pk")
