"""The grant part of the main navigation.

The context processor only says which section a page belongs to (no query). The parts that
need the database, the Reviews link for reviewers and the unread count, come from the small
``grants:navigation`` fragment that htmx loads with the page: every page of the portal keeps
its query budget.
"""

from typing import Any

from django.contrib.auth.models import Group
from django.db.models import Count, Exists, OuterRef, Q
from django.http import HttpRequest

from accounts.models import User
from booking.models import REVIEWERS_GROUP

# The portal's URL names start with the section they belong to in the navigation.
SECTIONS = {
    "call": "calls",
    "application": "applications",
    "review": "reviews",
    "project": "projects",
    "member": "projects",
    "invitation": "projects",
    "notification": "notifications",
}


def grants_navigation(request: HttpRequest) -> dict[str, Any]:
    """``grants_section``: the navigation entry of the current page ("" outside the grants)."""
    match = request.resolver_match
    section = ""
    if match is not None and match.namespace == "grants":
        section = SECTIONS.get((match.url_name or "").split("_")[0], "")
    return {"grants_section": section}


def navigation_of(user: User) -> dict[str, Any]:
    """Whether the user reviews, and how many notifications they have not read. One query."""
    row = (
        User.objects.filter(pk=user.pk)
        .annotate(
            unread=Count("notifications", filter=Q(notifications__read_at__isnull=True)),
            reviewer=Exists(Group.objects.filter(user=OuterRef("pk"), name=REVIEWERS_GROUP)),
        )
        .values("unread", "reviewer")
        .get()
    )
    return {"unread": row["unread"], "is_reviewer": row["reviewer"]}
