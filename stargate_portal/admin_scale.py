"""The Django admin on a site of thousands of projects and millions of ledger entries: foreign
keys it searches instead of listing (``autocomplete_fields``), and lists of tables that grow
for ever that count their rows only so far."""

from functools import cached_property
from typing import Any

from django.contrib import admin
from django.core.paginator import Paginator
from django.http import HttpRequest

from stargate_portal.input_limits import ID_MAX, whole_number
from stargate_portal.keyset import count_so_far


class SearchedForeignKeysAdmin(admin.ModelAdmin):
    """A model admin whose ``autocomplete_fields`` point at tables that grow with the site.

    An add form takes its initial values from the query string (``?project=12``), and the
    search box looks its initial row up by that value: a value that is no id was a 500
    ("Field 'id' expected a number"), so such a value is dropped, as a select ignores it."""

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        for name in self.autocomplete_fields:
            if name in initial and whole_number(initial[name], ID_MAX) is None:
                del initial[name]
        return initial


ADMIN_COUNT_MAX = 10_000
"""An admin list of a table that grows for ever counts this many rows at most."""


class CountSoFarPaginator(Paginator):
    """Counts at most ``ADMIN_COUNT_MAX`` + 1 rows: the ledger gains three entries per finished
    job, and a ``COUNT(*)`` of it on every view of its admin list would grow with it (16 ms at
    164,000 entries; seconds at the tens of millions a year brings). ``capped`` says the count
    stopped there; the pages reach the rows counted (filters narrow the rest), and the list
    says "more than 10,000" (``templates/admin/booking/pagination.html``)."""

    count_max = ADMIN_COUNT_MAX

    @cached_property
    def count(self) -> int:
        return count_so_far(self.object_list, self.count_max)

    @property
    def capped(self) -> bool:
        return self.count > self.count_max
