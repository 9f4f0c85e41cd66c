"""The API's router: an object in a URL is a number unless its viewset says otherwise.

DRF's default accepts any text as ``{pk}``, so ``/reviews/abc/`` reached views that turned it
into a number and failed with a 500; here such a URL does not match, and answers 404.
"""

from typing import Any

from rest_framework.routers import SimpleRouter

NUMERIC_ID = "[0-9]+"


class IdRouter(SimpleRouter):
    """A ``SimpleRouter`` whose ``{pk}`` is a number (a viewset's ``lookup_value_regex`` wins)."""

    def get_lookup_regex(self, viewset: Any, lookup_prefix: str = "") -> str:
        if getattr(viewset, "lookup_value_regex", None) is None:
            return self._base_pattern.format(  # type: ignore[attr-defined]
                lookup_prefix=lookup_prefix,
                lookup_url_kwarg=getattr(viewset, "lookup_url_kwarg", None)
                or getattr(viewset, "lookup_field", "pk"),
                lookup_value=NUMERIC_ID,
            )
        return str(super().get_lookup_regex(viewset, lookup_prefix))
