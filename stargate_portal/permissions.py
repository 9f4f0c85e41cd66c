"""Who is staff: the one check every feature's staff-only service calls.

Roles inside a feature (an organisation's owners, a project's PI and managers, reviewers) are
checked by that feature's permissions module (``accounts.models.memberships``,
``booking.permissions``); pages and API views only decide how a refusal looks.
"""

from django.utils.translation import gettext as _

from accounts.models import User
from stargate_portal.errors import PermissionDenied


def is_staff(user: User) -> bool:
    return bool(user.is_authenticated and user.is_staff)


def require_staff(user: User, message: str | None = None) -> None:
    """Refuse (403, ``permission_denied``) anyone who is not Stargate staff."""
    if not is_staff(user):
        raise PermissionDenied(message or _("Only staff do this."))
