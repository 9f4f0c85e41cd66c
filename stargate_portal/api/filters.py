"""Query-string filters shared by the API's list endpoints.

Datetimes: an ISO 8601 value may carry any offset Python accepts (up to ±23:59), while
PostgreSQL refuses offsets beyond ±15:59 with an error. Every datetime filter therefore takes
only real-world offsets (±14:00 at most) and compares in UTC.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField

MAX_UTC_OFFSET = timedelta(hours=14)
"""The largest offset any time zone uses (Kiribati, UTC+14)."""


class UtcIsoDateTimeField(IsoDateTimeField):
    default_error_messages = {
        "offset": _("A time zone offset is at most ±14:00."),
    }

    def to_python(self, value: Any) -> datetime | None:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        offset = parsed.utcoffset()
        if offset is not None and abs(offset) > MAX_UTC_OFFSET:
            raise forms.ValidationError(self.error_messages["offset"], code="offset")
        return parsed.astimezone(UTC)


class UtcIsoDateTimeFilter(filters.IsoDateTimeFilter):
    """``IsoDateTimeFilter`` with real-world offsets only, compared in UTC."""

    field_class = UtcIsoDateTimeField
