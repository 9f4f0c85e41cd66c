"""Long lists in the portal and the console: 25 a page, ``?page=`` in the query string."""

from functools import cached_property
from typing import Any

from django.core.paginator import EmptyPage, Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

PAGE_SIZE = 25
PAGE_NUMBER_MAX = 1_000_000
"""Past the rows counted, a page number above this is the last page counted (an offset
beyond what the database takes would be an error, not a page)."""


class BoundedPage(Page):
    """A page of a list counted only so far: whether another page follows comes from one row
    read past this page, not from the count."""

    def __init__(self, object_list: Any, number: int, paginator: Any, *, more: bool) -> None:
        super().__init__(object_list, number, paginator)
        self.more = more

    def has_next(self) -> bool:
        return self.more


class BoundedPaginator(Paginator):
    """Counts at most ``count_max`` + 1 rows, so a page of a huge list costs its own rows (and
    the offset), not the whole list; ``count_exact`` says whether there are more. Past the
    count, pages still follow one another to the end of the list: each reads one row more to
    know whether there is a next one."""

    def __init__(self, object_list: Any, per_page: int, *, count_max: int) -> None:
        super().__init__(object_list, per_page)
        self.count_max = count_max

    @cached_property
    def count(self) -> int:
        rows: Any = self.object_list
        if isinstance(rows, QuerySet):
            # Counting needs no order: without it the database stops after count_max + 1
            # rows instead of sorting the whole list first.
            rows = rows.order_by()
        return int(rows[: self.count_max + 1].count())

    @property
    def count_exact(self) -> bool:
        return self.count <= self.count_max

    @property
    def full_pages_counted(self) -> int:
        """Pages surely there when the count stopped early ("page 2 of more than 40")."""
        return self.count_max // self.per_page

    def validate_number(self, number: Any) -> int:
        try:
            return super().validate_number(number)
        except EmptyPage:
            # A whole number (the base class checked it); beyond the rows counted, ``page``
            # finds out whether that page exists.
            if self.count_exact or not 1 <= int(number) <= PAGE_NUMBER_MAX:
                raise
            return int(number)

    def get_page(self, number: Any) -> Page[Any]:
        try:
            return super().get_page(number)
        except EmptyPage:  # past the end of a list counted only so far: the last page counted
            return self.page(self.num_pages)

    def page(self, number: Any) -> Page[Any]:
        number = self.validate_number(number)
        if self.count_exact:
            return super().page(number)
        bottom = (number - 1) * self.per_page
        rows = list(self.object_list[bottom : bottom + self.per_page + 1])
        if not rows:
            raise EmptyPage(_("That page contains no results"))
        return BoundedPage(rows[: self.per_page], number, self, more=len(rows) > self.per_page)


def page_of(
    request: HttpRequest, items: Any, *, per_page: int = PAGE_SIZE, count_max: int | None = None
) -> Page[Any]:
    """The requested page (the last one when past the end, the first when not a number).
    With ``count_max``, at most that many rows are counted (``BoundedPaginator``)."""
    paginator = (
        Paginator(items, per_page)
        if count_max is None
        else BoundedPaginator(items, per_page, count_max=count_max)
    )
    return paginator.get_page(request.GET.get("page"))
