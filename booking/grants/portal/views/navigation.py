"""The navigation entries that need the database, loaded by htmx with each page."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from accounts.models import User
from booking.grants.portal.navigation import SECTIONS, navigation_of


@never_cache
def navigation(request: HttpRequest) -> HttpResponse:
    """The Reviews link (reviewers only) and Notifications with the unread count."""
    if not isinstance(request.user, User):
        return HttpResponse(status=204)  # logged out meanwhile: htmx keeps the plain link
    section = request.GET.get("section", "")
    context = {
        **navigation_of(request.user),
        "grants_section": section if section in SECTIONS.values() else "",
    }
    return render(request, "grants/includes/nav_items.html", context)
