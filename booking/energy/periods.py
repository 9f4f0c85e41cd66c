"""The period of a report: whole months ``from`` to ``to`` (``YYYY-MM``), by default the last
twelve months; at most five years."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from stargate_portal.errors import ValidationFailed

MAX_MONTHS = 60
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def months_between(first: date, last: date) -> list[date]:
    return [
        add_months(first, i)
        for i in range((last.year - first.year) * 12 + last.month - first.month + 1)
    ]


def parse_month(text: str, field: str) -> date:
    found = _MONTH.match(text.strip())
    if not found or not 1 <= int(found[2]) <= 12 or not 2000 <= int(found[1]) <= 2999:
        raise ValidationFailed.on_field(field, _("A month as YYYY-MM, e.g. 2026-03."))
    return date(int(found[1]), int(found[2]), 1)


def report_period(params: Mapping[str, Any]) -> tuple[date, date]:
    """The months a request asks for; ValidationFailed (field ``from`` or ``to``) otherwise."""
    this_month = timezone.now().date().replace(day=1)
    last = parse_month(str(params["to"]), "to") if params.get("to") else this_month
    if params.get("from"):
        first = parse_month(str(params["from"]), "from")
    else:
        first = add_months(last, -11)
    if first > last:
        raise ValidationFailed.on_field("from", _("The period starts after it ends."))
    if len(months_between(first, last)) > MAX_MONTHS:
        raise ValidationFailed.on_field("from", _("At most %(n)s months.") % {"n": MAX_MONTHS})
    return first, last
