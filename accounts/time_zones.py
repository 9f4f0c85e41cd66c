"""Time zones a person may choose (the IANA names this system knows), and reading them back."""

from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

UTC_NAME = "UTC"


@cache
def time_zone_names() -> tuple[str, ...]:
    """Every IANA zone name known here, sorted; "UTC" first."""
    names = sorted(name for name in available_timezones() if "/" in name and "Etc/" not in name)
    return (UTC_NAME, *names)


def validate_time_zone(value: str) -> None:
    if value not in time_zone_names():
        raise ValidationError(
            _("%(name)s is not a time zone this portal knows, e.g. Europe/Oslo.") % {"name": value},
            code="unknown_time_zone",
        )


def zone_named(name: str) -> ZoneInfo:
    """The zone of ``name``; UTC for a name this system does not know (never an error)."""
    try:
        return ZoneInfo(name or UTC_NAME)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(UTC_NAME)
