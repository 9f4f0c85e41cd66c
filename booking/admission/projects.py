"""What the admission cycle keeps about projects between cycles.

Balances follow the append-only ledger (totals over the rows the cursor has passed, plus the
rows read since), so a cycle costs the new ledger rows, not the whole ledger. Standings (tier,
state, limits, today's allocations) are re-read every ``STANDING_MAX_AGE_SECONDS``: a change
shows in the reasons a little later, and meanwhile the ledger itself refuses a suspended
project's hold. Fair-share usage is re-read every cycle (one row per project).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Collection
from datetime import date

from booking.admission.feed import FeedCursor
from booking.jobs.priority import ProjectFacts, ProjectStanding, project_facts, project_standings
from booking.ledger.selectors import Balance, balances
from booking.models import GpuType, LedgerEntry

STANDING_MAX_AGE_SECONDS = 30.0
LEDGER_MAX_BEHIND = 200_000


class ProjectBook:
    def __init__(self) -> None:
        self.ledger = FeedCursor()
        self.totals: dict[int, dict[str, Balance]] = {}
        """Project id → GPU type name → balance, as of the ledger cursor."""
        self._started = False
        self._type_names: dict[int, str] = {}
        self._standings: dict[int, ProjectStanding] = {}
        self._standings_key: tuple[date, float] | None = None

    def facts(self, project_ids: Collection[int], *, today: date) -> dict[int, ProjectFacts]:
        ids = set(project_ids)
        return project_facts(
            ids,
            today=today,
            standings=self._standings_of(ids, today),
            balances=self._balances_of(ids),
        )

    def tiers(self, project_ids: Collection[int], *, today: date) -> dict[int, int]:
        """Tiers of these projects (standings cached as for ``facts``; one query for those
        not cached): the tier caps count the running GPUs of projects with nothing pending."""
        standings = self._standings_of(set(project_ids), today)
        return {pk: standings[pk].tier for pk in project_ids if pk in standings}

    def _standings_of(self, ids: set[int], today: date) -> dict[int, ProjectStanding]:
        now = time.monotonic()
        key = self._standings_key
        if key is None or key[0] != today or now - key[1] > STANDING_MAX_AGE_SECONDS:
            self._standings, self._standings_key = {}, (today, now)
        missing = ids - self._standings.keys()
        if missing:
            self._standings.update(project_standings(missing, today=today))
        return self._standings

    def _balances_of(self, ids: set[int]) -> dict[int, dict[str, Balance]]:
        self._follow_ledger()
        missing = ids - self.totals.keys()
        if missing:
            self._load_totals(missing)
        return {pk: dict(self.totals[pk]) for pk in ids}

    def _follow_ledger(self) -> None:
        behind = self.ledger.behind(LedgerEntry) if self._started else None
        if behind is None or behind > LEDGER_MAX_BEHIND:
            self.ledger, self.totals, self._started = FeedCursor.at_end(LedgerEntry), {}, True
            return
        rows = self.ledger.read(
            LedgerEntry.objects.all(), "pk", "project_id", "gpu_type_id", "kind", "gpu_hours"
        )
        for _pk, project_id, type_id, kind, gpu_hours in rows:
            book = self.totals.get(project_id)
            if book is not None:
                name = self._type_name(type_id)
                book[name] = book.get(name, Balance()).plus(kind, gpu_hours)

    def _load_totals(self, project_ids: set[int]) -> None:
        passed = LedgerEntry.objects.filter(self.ledger.passed(), project_id__in=project_ids)
        loaded: dict[int, dict[str, Balance]] = defaultdict(dict)
        for (project_id, type_id), balance in balances(passed, "project_id", "gpu_type_id").items():
            loaded[project_id][self._type_name(type_id)] = balance
        for pk in project_ids:
            self.totals[pk] = loaded.get(pk, {})

    def _type_name(self, type_id: int) -> str:
        if type_id not in self._type_names:
            self._type_names = dict(GpuType.objects.values_list("pk", "name"))
        return self._type_names.get(type_id, f"gpu-type-{type_id}")
