from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from rest_framework import pagination
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from stargate_portal.errors import ValidationFailed
from stargate_portal.keyset import (
    Cursor,
    InvalidCursor,
    KeysetPage,
    count_so_far,
    keyset_page,
    ordering_of,
)


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


class BoundedCountPagination(PageNumberPagination):
    """Pages of lists that grow with the work (a busy project's jobs, its ledger), each
    costing its own rows whatever the list's length.

    ``count`` is exact up to ``count_max`` and null beyond. Page numbers reach the first
    ``count_max`` rows (an offset costs the rows it skips); from there on ``next`` and
    ``previous`` carry a ``cursor`` (the position of a row in the list's order, which an index
    finds), so following the links walks the whole list, page after page, at the cost of the
    first. A page number beyond them is refused (``page_too_deep``)."""

    count_max = 1_000
    cursor_query_param = "cursor"

    def paginate_queryset(  # type: ignore[override]
        self, queryset: QuerySet[Any], request: Request, view: Any = None
    ) -> list[Any] | None:
        page_size = self.get_page_size(request)
        if not page_size:
            return None
        self.request = self._request = request
        self.size = page_size
        self.ordering = ordering_of(queryset)
        queryset = self.ordering.apply(queryset)
        token = request.query_params.get(self.cursor_query_param)
        rows = (
            self._numbered(queryset, page_size)
            if token is None
            else self._after_cursor(queryset, self._cursor(token), page_size)
        )
        counted = count_so_far(queryset, self.count_max)
        self.total: int | None = counted if counted <= self.count_max else None
        self.rows = rows
        return rows

    @property
    def numbered_pages(self) -> int:
        """Pages reached by number: those starting within the first ``count_max`` rows."""
        return max(1, -(-self.count_max // self.size))

    def _numbered(self, queryset: QuerySet[Any], page_size: int) -> list[Any]:
        raw = self._request.query_params.get(self.page_query_param, "1")
        if not raw.isdigit() or int(raw) < 1 or len(raw) > 9:
            raise NotFound(self.invalid_page_message.format(page_number=raw, message=""))
        self.number = int(raw)
        if self.number > self.numbered_pages:
            message = _(
                "Page numbers reach the first %(rows)s rows (page %(last)s at this page size); "
                "follow the next links, which carry a cursor, to go further."
            ) % {"rows": self.count_max, "last": self.numbered_pages}
            raise ValidationFailed(
                message,
                code="page_too_deep",
                details={"page": [message], "last_numbered_page": self.numbered_pages},
            )
        offset = (self.number - 1) * page_size
        rows = list(queryset[offset : offset + page_size + 1])
        if self.number > 1 and not rows:
            raise NotFound(self.invalid_page_message.format(page_number=raw, message=""))
        self.has_next = len(rows) > page_size
        self.has_previous = self.number > 1
        self.keyset: KeysetPage | None = None
        return rows[:page_size]

    def _cursor(self, token: str) -> Cursor:
        try:
            return self.ordering.decode(token)
        except InvalidCursor:
            message = _("This cursor is not one of this list's; follow the next links.")
            raise ValidationFailed(
                message, code="invalid_cursor", details={"cursor": [message]}
            ) from None

    def _after_cursor(self, queryset: QuerySet[Any], cursor: Cursor, page_size: int) -> list[Any]:
        self.keyset = keyset_page(queryset, self.ordering, cursor, page_size)
        self.number = self.keyset.number
        self.has_next = self.keyset.next_cursor is not None
        self.has_previous = self.keyset.previous_cursor is not None
        return self.keyset.rows

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {
                "count": self.total,
                "next": self._next() if self.has_next else None,
                "previous": self._previous() if self.has_previous else None,
                "results": data,
            }
        )

    def _next(self) -> str:
        if self.keyset is not None:
            return self._link(None, self.keyset.next_cursor)
        if self.number < self.numbered_pages:
            return self._link(self.number + 1)
        # Past the numbered pages, an offset would cost every row it skips: a cursor.
        token = self.ordering.token(self.rows[-1], backwards=False, number=self.number + 1)
        return self._link(None, token)

    def _previous(self) -> str:
        if self.keyset is not None:
            return self._link(None, self.keyset.previous_cursor)
        return self._link(self.number - 1)

    def _link(self, number: int | None, token: str | None = None) -> str:
        url = remove_query_param(self._request.build_absolute_uri(), self.cursor_query_param)
        if token is not None:
            url = remove_query_param(url, self.page_query_param)
            return replace_query_param(url, self.cursor_query_param, token)
        if number == 1:
            return remove_query_param(url, self.page_query_param)
        return replace_query_param(url, self.page_query_param, number)

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        shape = super().get_paginated_response_schema(schema)
        shape["properties"]["count"] = {
            "type": "integer",
            "nullable": True,
            "description": f"Exact up to {self.count_max}; null when there are more.",
        }
        return shape

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["description"] = (
                    f"A page within the first {self.count_max} rows; beyond, follow `next`."
                )
        parameters.append(
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "A position in the list, as the `next` and `previous` links "
                "carry it past the numbered pages (opaque; overrides `page`).",
                "schema": {"type": "string"},
            }
        )
        return parameters
