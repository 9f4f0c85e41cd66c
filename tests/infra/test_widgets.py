"""``LongSelect`` writes what Django's ``Select`` writes, in one pass instead of a template per
option (the time zones and countries of the portal's and the admin's forms)."""

from html.parser import HTMLParser
from typing import Any

import pytest
from django import forms

from accounts.portal.forms import OrganisationForm, PreferencesForm
from stargate_portal.widgets import LongSelect


class _Elements(HTMLParser):
    """The elements of a fragment as (tag, attributes) and its text, whitespace dropped."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        self.seen.append(("/" + tag, None))

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.seen.append(("text", data))


def _elements(html: str) -> list[tuple[str, Any]]:
    parser = _Elements()
    parser.feed(html)
    return parser.seen


CHOICES = [
    ("", "---------"),
    ("a", "Plain"),
    ("b&c", 'Quote " and <script>alert(1)</script>'),
    ("Group <1>", [("g1", "In a group"), ("a", "Same value again")]),
    (None, "No value"),
]


class _Form(forms.Form):
    pick = forms.ChoiceField(choices=CHOICES, required=False, widget=LongSelect)
    picked = forms.ChoiceField(choices=CHOICES, required=True, help_text="Help")


@pytest.mark.parametrize(
    "data", [None, {"pick": "a", "picked": "b&c"}, {"pick": "<x>", "picked": "'"}]
)
def test_long_select_writes_the_elements_django_writes(data: dict[str, str] | None) -> None:
    form = _Form(data, initial={"pick": "g1", "picked": "a"})
    form.is_valid()
    for name in ("pick", "picked"):
        field = form.fields[name]
        field.widget = LongSelect(choices=field.choices)
        ours = str(form[name])
        field.widget = forms.Select(choices=field.choices)
        django = str(form[name])

        assert _elements(ours) == _elements(django)
        assert "<script>" not in ours


def test_long_select_marks_the_first_option_of_the_value_only() -> None:
    html = str(_Form({"pick": "a", "picked": "a"})["pick"])

    selected = [attrs["value"] for tag, attrs in _elements(html) if attrs and "selected" in attrs]
    assert selected == ["a"]
    assert html.count("selected") == 1


@pytest.mark.parametrize(
    ("form", "field", "value", "label"),
    [
        (PreferencesForm, "time_zone", "Europe/Oslo", "Europe/Oslo"),
        (
            PreferencesForm,
            "time_zone",
            "America/Argentina/Buenos_Aires",
            "America/Argentina/Buenos Aires",
        ),
        (OrganisationForm, "country", "NO", "Norway"),
    ],
)
def test_the_long_lists_of_the_portal_show_the_chosen_entry(
    form: type[forms.Form], field: str, value: str, label: str
) -> None:
    html = str(form(initial={field: value})[field])

    elements = _elements(html)
    chosen = [i for i, (tag, attrs) in enumerate(elements) if attrs and "selected" in attrs]
    assert len(chosen) == 1
    assert elements[chosen[0]][1]["value"] == value
    assert elements[chosen[0] + 1] == ("text", label)
    assert sum(tag == "option" for tag, _attrs in elements) > 200
