"""Following an append-only table by id (the job events, the ledger), in commit order.

Ids are allocated before commit, so a transaction that commits late leaves a *gap* below ids
already seen. A cursor asks for its gaps again every time, for ``GAP_TIMEOUT_SECONDS`` (then
it takes them for rolled back). ``passed()`` selects exactly the rows the cursor has gone
past, so totals read with it and deltas read with ``read()`` never count a row twice.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import models
from django.db.models import Max, Q

LOOKBACK = 10_000
"""Ids below the newest one checked for gaps when a cursor starts."""
GAP_TIMEOUT_SECONDS = 120.0


@dataclass
class FeedCursor:
    last_id: int = 0
    gaps: dict[int, float] = field(default_factory=dict)

    @classmethod
    def at_end(cls, model: type[models.Model]) -> FeedCursor:
        """A cursor past every committed row (rows still being written are its gaps)."""
        last = newest_id(model)
        floor = max(last - LOOKBACK, 0)
        present = set(
            model._default_manager.filter(pk__gt=floor, pk__lte=last).values_list("pk", flat=True)
        )
        now = time.monotonic()
        return cls(last, {pk: now for pk in range(floor + 1, last + 1) if pk not in present})

    def behind(self, model: type[models.Model]) -> int | None:
        """How many ids were written since; None if ids went backwards (a restored database)."""
        last = newest_id(model)
        return None if last < self.last_id else last - self.last_id

    def read(self, queryset: models.QuerySet[Any], *fields: str) -> list[tuple[Any, ...]]:
        """The rows past the cursor or in its gaps (``fields`` start with the pk); moves on."""
        rows = list(queryset.filter(pk__gt=self.last_id).order_by().values_list(*fields))
        if self.gaps:
            late = queryset.filter(pk__in=list(self.gaps)).order_by().values_list(*fields)
            rows += late
        self._move([row[0] for row in rows])
        return rows

    def passed(self) -> Q:
        """The rows already behind the cursor: totals over these plus ``read()`` deltas."""
        condition = Q(pk__lte=self.last_id)
        if self.gaps:
            condition &= ~Q(pk__in=list(self.gaps))
        return condition

    def _move(self, seen: Sequence[int]) -> None:
        now = time.monotonic()
        seen_set = set(seen)
        newest = max(seen_set, default=self.last_id)
        for pk in range(self.last_id + 1, newest + 1):
            if pk not in seen_set:
                self.gaps.setdefault(pk, now)
        for pk in seen_set:
            self.gaps.pop(pk, None)
        self.gaps = {pk: t for pk, t in self.gaps.items() if now - t < GAP_TIMEOUT_SECONDS}
        self.last_id = max(newest, self.last_id)


def newest_id(model: type[models.Model]) -> int:
    return model._default_manager.aggregate(last=Max("pk"))["last"] or 0
