"""The Django admin on a site of thousands of projects and millions of ledger entries: foreign
keys it searches instead of listing (``autocomplete_fields``), lists of tables that grow for
ever that count their rows only so far, and deletions refused by the first rows of history
that protect them instead of by all of it. And under hostile posts: a search box shown again
with a value that is no id, an inline whose posted form count is enormous, a many-to-many
choice of an id no column holds."""

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import get_deleted_objects
from django.contrib.admin.views.main import ORDER_VAR, ChangeList
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import models
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from stargate_portal.input_limits import ID_MAX, whole_number
from stargate_portal.keyset import count_so_far

PROTECTED_LISTED = 10
"""Rows of each kind of history a refused deletion lists (it says when there are more)."""


class ProtectedHistoryMixin:
    """Deleting a row that history protects (a project's jobs and ledger, a user's jobs, a GPU
    type's jobs) is refused after reading the first ``PROTECTED_LISTED`` + 1 rows of each
    protecting table, not all of them.

    Django's delete confirmation collects every row a deletion would touch, protected ones
    included, as objects, and lists them: on the benchmark site 4.7 s for the busiest
    project, 22 s for the user who submitted 170,000 jobs and 25 s for a GPU type, a worker
    held and its memory filled, for a page that can only say "cannot delete". Rows with no
    protecting history go on to Django's own confirmation (what cascades with them)."""

    def get_deleted_objects(
        self, objs: Sequence[models.Model] | models.QuerySet[Any], request: HttpRequest
    ) -> tuple[list[Any], dict[str, int], set[str], list[Any]]:
        protected = protected_history(objs)
        if protected:
            return [], {}, set(), protected
        return get_deleted_objects(objs, request, self.admin_site)  # type: ignore[attr-defined]


def protected_history(objs: Sequence[models.Model] | models.QuerySet[Any]) -> list[str]:
    """The first rows of each table whose ``PROTECT`` or ``RESTRICT`` foreign key points at
    ``objs`` (a query set or a list of one model's rows): one bounded query per such key."""
    rows = list(objs[:1] if isinstance(objs, models.QuerySet) else objs)
    if not rows:
        return []
    found: list[str] = []
    for relation in rows[0]._meta.related_objects:
        if relation.on_delete not in (models.PROTECT, models.RESTRICT):
            continue
        field = relation.field
        model = field.model
        first = list(
            model._base_manager.filter(**{f"{field.name}__in": objs}).order_by("pk")[
                : PROTECTED_LISTED + 1
            ]
        )
        label = capfirst(model._meta.verbose_name)
        found += [format_html("{}: {}", label, row) for row in first[:PROTECTED_LISTED]]
        if len(first) > PROTECTED_LISTED:
            found.append(
                format_html(
                    "{}: more than {} (the first {} are listed)",
                    capfirst(model._meta.verbose_name_plural),
                    PROTECTED_LISTED,
                    PROTECTED_LISTED,
                )
            )
    return found


class ProtectedHistoryAdmin(ProtectedHistoryMixin, admin.ModelAdmin):
    """A plain model admin whose deletions are refused by a bounded look at history."""


class SearchedForeignKeysAdmin(ProtectedHistoryAdmin):
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

    def formfield_for_foreignkey(
        self, db_field: models.ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> Any:
        if db_field.name in self.get_autocomplete_fields(request) and "widget" not in kwargs:
            kwargs["widget"] = IdsOnlyAutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class IdsOnlyAutocompleteSelect(AutocompleteSelect):
    """The admin's search box of a foreign key, shown again after a posted form failed: it
    looks the posted value up to show its row, and a value that is no id ("2026-13-45") was a
    500 ("Field 'id' expected a number") instead of the form with its error. Such a value is
    not looked up; the field's own error says why it was refused."""

    def optgroups(self, name: str, value: Any, attr: Any = None) -> Any:
        ids = [item for item in value if whole_number(item, ID_MAX) is not None]
        return super().optgroups(name, ids, attr)


class IdsOnlyMultipleChoiceField(forms.ModelMultipleChoiceField):
    """A many-to-many choice (a user's groups, a group's permissions) that refuses a posted
    value which is no id before looking the values up: SQLite cannot even bind a number past
    64 bits (a 500, "Python int too large to convert to SQLite INTEGER", where PostgreSQL
    answers that no row has it). The error is the field's own ("… is not a valid value").
    With ``max_values``, more values than that are refused before any is looked up
    (error ``max_values``, ``%(max)d``)."""

    default_error_messages = {
        "max_values": _("Choose at most %(max)d."),
    }

    def __init__(self, *args: Any, max_values: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_values = max_values

    def clean(self, value: Any) -> Any:
        if (
            self.max_values is not None
            and isinstance(value, list | tuple)
            and len(value) > self.max_values
        ):
            raise ValidationError(
                self.error_messages["max_values"],
                code="max_values",
                params={"max": self.max_values},
            )
        if self.to_field_name is None and isinstance(value, list | tuple):
            for item in value:
                if whole_number(item, ID_MAX) is None:
                    raise ValidationError(
                        self.error_messages["invalid_pk_value"],
                        code="invalid_pk_value",
                        params={"pk": item},
                    )
        return super().clean(value)


class IdsOnlyManyToManyMixin:
    """A model admin whose many-to-many fields are ``IdsOnlyMultipleChoiceField``."""

    def formfield_for_manytomany(
        self,
        db_field: "models.ManyToManyField[Any, Any]",
        request: HttpRequest | None = None,
        **kwargs: Any,
    ) -> "forms.ModelMultipleChoiceField[Any] | None":
        kwargs.setdefault("form_class", IdsOnlyMultipleChoiceField)
        return super().formfield_for_manytomany(db_field, request, **kwargs)  # type: ignore[misc]


INLINE_FORMS_MAX = 50
"""The most rows an inline of the admin edits at once (a call's pools, an organisation's
email domains): far more than either has."""


class BoundedInline(admin.TabularInline):
    """An inline that builds no more forms than it shows. Django builds and validates as many
    forms as the posted management form counts, up to its limit plus 1,000: a posted count of
    40 digits made 2,000 forms, 2.8 s of CPU for one request to a call's add page. Here a
    count past ``INLINE_FORMS_MAX`` is a form error ("Please submit at most 50 forms")."""

    extra = 0
    max_num = INLINE_FORMS_MAX

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        kwargs.setdefault("absolute_max", self.max_num)
        return super().get_formset(request, obj, **kwargs)


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


class WrittenOrderChangeList(ChangeList):
    """An admin list shown in its admin's ``ordering`` only (its admin says
    ``sortable_by = ()``, so the headers offer no sort): ``?o=`` is ignored too, since a sort by
    a column no index serves sorts the whole table on every view."""

    def get_ordering(self, request: HttpRequest, queryset: Any) -> list[Any]:
        self.params.pop(ORDER_VAR, None)
        return super().get_ordering(request, queryset)
