"""Query-string filters shared by the API's list endpoints.

Datetimes: an ISO 8601 value may carry any offset Python accepts (up to ±23:59), while
PostgreSQL refuses offsets beyond ±15:59 with an error. Every datetime filter therefore takes
only real-world offsets (±14:00 at most) and compares in UTC.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from django_filters.constants import EMPTY_VALUES
from django_filters.fields import IsoDateTimeField
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request

from stargate_portal.errors import ValidationFailed

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


def state_filter(choices: Any) -> filters.MultipleChoiceFilter:
    """A repeatable ``?state=a&state=b`` on a column of the row. django-filter adds
    ``DISTINCT`` by default, which made PostgreSQL sort every matching row (9,190 jobs of the
    busy project) for a page of 50; a column of the row has no duplicates to remove."""
    return filters.MultipleChoiceFilter(choices=choices, distinct=False)


class NamedRowFilter(filters.CharFilter):
    """``?gpu_type=h100`` on a foreign key (``field_name``): the related row named so,
    case-insensitively. The name is looked up first and the list filtered by the row's key,
    so the planner sees the key's own statistics: filtered through a join on the name, a name
    that no listed row has (a GPU type added this week, a typo) made PostgreSQL walk the whole
    list's index for a page that never filled (every job of the site for staff, 140 to 190 ms on
    the benchmark site). A name no row has matches nothing without a query of the list."""

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        if value in EMPTY_VALUES:
            return qs
        named = qs.model._meta.get_field(self.field_name).related_model
        keys = list(named._default_manager.filter(name__iexact=value).values_list("pk", flat=True))
        return qs.filter(**{f"{self.field_name}__in": keys}) if keys else qs.none()


class StrictOrderingFilter(OrderingFilter):
    """``?ordering=``, refused with a 400 when it names a field the list cannot be ordered by
    (DRF's own filter silently ignores it, so a client never learns its order was not the
    one asked for). A list offers only the orders an index serves."""

    def get_ordering(self, request: Request, queryset: QuerySet[Any], view: Any) -> Any:
        raw = request.query_params.get(self.ordering_param)
        if raw:
            asked = [part.strip() for part in raw.split(",") if part.strip()]
            valid = {
                name for name, _label in self.get_valid_fields(queryset, view, {"request": request})
            }
            unknown = [part for part in asked if part.lstrip("-") not in valid]
            if unknown:
                message = _("A list of these can be ordered by %(fields)s only.") % {
                    "fields": ", ".join(sorted(valid)) or "-"
                }
                raise ValidationFailed.on_field(self.ordering_param, message)
        return super().get_ordering(request, queryset, view)
