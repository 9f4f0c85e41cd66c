"""Foreign keys the Django admin searches instead of listing (``autocomplete_fields``)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from stargate_portal.input_limits import ID_MAX, whole_number


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
