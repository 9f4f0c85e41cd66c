"""Long lists in the portal and the console: 25 a page, ``?page=`` in the query string."""

from functools import cached_property
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest

PAGE_SIZE = 25


class BoundedPaginator(Paginator):
    """Counts at most ``count_max`` + 1 rows, so a page of a huge list costs its own rows (and
    the offset), not the whole list; ``count_exact`` says whether there are more."""

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
