"""Keyset pages: the rows after (or before) a given row of an ordered list.

A page found by its offset costs the rows skipped: page 4,000 of the site's queue read
100,000 jobs to show 25. A keyset page starts at a row's position in the list's order, which
an index finds directly, so a page deep in the list costs what the first page costs. The
cursor is an opaque token holding that row's ordering values (and the page number shown);
it selects only among the rows of the list it is used on, so a forged one shows nothing the
list would not.

The list must be ordered by model fields that are never null; the primary key is added as the
last key when missing, so the order is total.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import Field, Model, Q, QuerySet
from django.utils import timezone

TOKEN_MAX_CHARS = 1_000


def count_so_far(rows: Any, count_max: int) -> int:
    """How many ``rows`` there are, counting at most ``count_max`` + 1 of them: a list's count
    costs the rows it counts, so a long list is counted only as far as its pages need. A
    queryset is counted without its order, so the database stops after ``count_max`` + 1 rows
    instead of sorting the whole list first."""
    if isinstance(rows, QuerySet):
        rows = rows.order_by()
    return min(int(rows[: count_max + 1].count()), count_max + 1)


class InvalidCursor(ValueError):
    """The token is not a cursor of this list."""


@dataclass(frozen=True)
class Cursor:
    """Rows after the row of ``values`` in the list's order (before it when ``backwards``),
    shown as page ``number``."""

    values: tuple[Any, ...]
    backwards: bool
    number: int


@dataclass(frozen=True)
class Ordering:
    """A list's total order: ``(field, descending)`` from the first key to the primary key."""

    keys: tuple[tuple[Field[Any, Any], bool], ...]

    def apply(self, rows: QuerySet[Any], *, reverse: bool = False) -> QuerySet[Any]:
        return rows.order_by(
            *(
                ("-" if descending != reverse else "") + field.name
                for field, descending in self.keys
            )
        )

    def token(self, row: Model, *, backwards: bool, number: int) -> str:
        """The cursor of the rows after ``row`` (before it when ``backwards``)."""
        values = [field.value_to_string(row) for field, _descending in self.keys]
        text = json.dumps({"v": values, "b": int(backwards), "n": number}, separators=(",", ":"))
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    def decode(self, token: str) -> Cursor:
        if not token or len(token) > TOKEN_MAX_CHARS:
            raise InvalidCursor(token)
        try:
            data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            raw, backwards, number = data["v"], data["b"], data["n"]
            if not isinstance(raw, list) or len(raw) != len(self.keys):
                raise InvalidCursor(token)
            if backwards not in (0, 1) or type(number) is not int or not 1 <= number <= 10**9:
                raise InvalidCursor(token)
            values = tuple(
                field.to_python(value)
                for (field, _descending), value in zip(self.keys, raw, strict=True)
            )
        except (binascii.Error, UnicodeDecodeError, ValueError, TypeError, KeyError) as error:
            raise InvalidCursor(token) from error
        except ValidationError as error:
            raise InvalidCursor(token) from error
        if any(value is None or _naive(value) for value in values):
            raise InvalidCursor(token)
        return Cursor(values, bool(backwards), number)

    def beyond(self, rows: QuerySet[Any], cursor: Cursor) -> QuerySet[Any]:
        """The rows after the cursor's row in list order (before it, nearest first, when the
        cursor goes backwards)."""
        condition = Q()
        equal = Q()
        for (field, descending), value in zip(self.keys, cursor.values, strict=True):
            later = descending == cursor.backwards  # "greater than" comes later in the walk
            condition |= equal & Q(**{f"{field.name}__{'gt' if later else 'lt'}": value})
            equal &= Q(**{field.name: value})
        (first, descending), value = self.keys[0], cursor.values[0]
        # The plain bound on the first key lets the index start the scan at the row.
        bound = Q(**{f"{first.name}__{'gte' if descending == cursor.backwards else 'lte'}": value})
        return self.apply(rows.filter(bound, condition), reverse=cursor.backwards)


def _naive(value: Any) -> bool:
    return isinstance(value, datetime) and timezone.is_naive(value)


def ordering_of(rows: QuerySet[Any]) -> Ordering:
    """The list's order by model fields, the primary key added as the last key if missing."""
    model = rows.model
    names = list(rows.query.order_by) or list(model._meta.ordering)
    keys: list[tuple[Field[Any, Any], bool]] = []
    for name in names:
        if not isinstance(name, str) or "__" in name or name.lstrip("-") == "?":
            raise ValueError(f"a keyset page needs an order by the model's own fields: {name!r}")
        bare = name.lstrip("-")
        try:
            field = model._meta.pk if bare == "pk" else model._meta.get_field(bare)
        except FieldDoesNotExist as error:
            raise ValueError(f"a keyset page needs an order by model fields: {name!r}") from error
        if not isinstance(field, Field) or not field.concrete or field.null:
            raise ValueError(f"a keyset page needs an order by stored, non-null fields: {name!r}")
        keys.append((field, name.startswith("-")))
    primary = cast("Field[Any, Any]", model._meta.pk)
    if all(field != primary for field, _descending in keys):
        keys.append((primary, keys[-1][1] if keys else False))
    return Ordering(tuple(keys))


@dataclass(frozen=True)
class KeysetPage:
    """The rows of a cursor's page in list order, shown as page ``number``, and the cursors
    of the pages next to it (None at either end of the list)."""

    rows: list[Any]
    number: int
    next_cursor: str | None
    previous_cursor: str | None


def keyset_page(rows: QuerySet[Any], ordering: Ordering, cursor: Cursor, size: int) -> KeysetPage:
    """Up to ``size`` rows of the cursor's page, with the cursors of its neighbours."""
    found = list(ordering.beyond(rows, cursor)[: size + 1])
    more = len(found) > size  # rows lie beyond the page in the cursor's direction
    found = found[:size]
    if cursor.backwards:
        found.reverse()
    # Walking forwards, the cursor's row lies before this page; backwards, after it.
    has_next = bool(found) and (cursor.backwards or more)
    has_previous = bool(found) and (more if cursor.backwards else True)
    number = cursor.number
    return KeysetPage(
        found,
        number,
        ordering.token(found[-1], backwards=False, number=number + 1) if has_next else None,
        ordering.token(found[0], backwards=True, number=max(1, number - 1))
        if has_previous
        else None,
    )
