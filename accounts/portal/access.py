"""Who may do what in the portal: one place for the permission checks of its views."""

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from accounts import selectors
from accounts.models import Membership, Organisation, User


class AuthenticatedRequest(HttpRequest):
    """A request behind ``login_required``: its user is a real ``User``."""

    user: User
    htmx: HtmxDetails


def organisation_with_role(
    request: AuthenticatedRequest, pk: int
) -> tuple[Organisation, Membership]:
    """One of the user's organisations and their membership in it (404 when not a member)."""
    organisation = selectors.organisation_of(request.user, pk)
    membership = selectors.membership_in(request.user, organisation)
    if membership is None:  # left between the two reads
        raise PermissionDenied
    return organisation, membership


def managed_organisation(request: AuthenticatedRequest, pk: int) -> Organisation:
    """One of the user's organisations that they own or administer (403 for plain members)."""
    organisation, membership = organisation_with_role(request, pk)
    if not membership.can_manage:
        raise PermissionDenied
    return organisation
