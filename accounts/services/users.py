"""A person's own preferences."""

from django.utils.translation import gettext as _

from accounts.models import User
from accounts.time_zones import time_zone_names
from stargate_portal.errors import ValidationFailed


def user_set_time_zone(*, user: User, time_zone: str) -> User:
    """Show the portal's dates and times to ``user`` in ``time_zone`` (an IANA name)."""
    if time_zone not in time_zone_names():
        raise ValidationFailed.on_field(
            "time_zone", _("%(name)s is not a time zone this portal knows.") % {"name": time_zone}
        )
    user.time_zone = time_zone
    user.save(update_fields=["time_zone"])
    return user
