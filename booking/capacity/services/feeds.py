"""Calendar feeds: a member's secret address of a project's bookings (iCalendar).

The token is shown once, when the address is made; only its SHA-256 digest is kept. Making a
new address revokes the member's previous one for that project.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from booking.capacity.selectors import token_digest
from booking.models import CalendarFeed, Project
from booking.permissions import is_project_member
from stargate_portal.errors import Conflict, PermissionDenied

TOKEN_PREFIX = "sgcal_"  # noqa: S105 - a prefix, not a secret


@dataclass(frozen=True)
class NewFeed:
    feed: CalendarFeed
    token: str
    """Shown once; the address is built from it."""


def calendar_feed_create(*, user: User, project: Project) -> NewFeed:
    """A new secret address for the user; their previous one for the project stops working."""
    if not is_project_member(user, project):
        raise PermissionDenied(_("Only members follow a project's bookings."))
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        CalendarFeed.objects.filter(project=project, user=user, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        feed = CalendarFeed.objects.create(
            project=project, user=user, token_digest=token_digest(token)
        )
    return NewFeed(feed, token)


def calendar_feed_revoke(*, feed: CalendarFeed, user: User, now: datetime | None = None) -> None:
    """End an address (its owner only)."""
    if feed.user_id != user.pk:
        raise PermissionDenied(_("Only its owner revokes a calendar address."))
    if feed.revoked_at is not None:
        raise Conflict(_("This address was already revoked."), code="already_revoked")
    feed.revoked_at = now or timezone.now()
    feed.save(update_fields=["revoked_at"])
