"""A priority tier as pages show it: ``{{ tier|tier_badge }}``.

A filter rather than an included template: lists show one badge a row, and an include costs
its template's nodes and a context push each time (the console's queue and fair-share pages
render 25 a page)."""

from functools import lru_cache

from django import template
from django.utils.html import format_html
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from accounts.tiers import PriorityTier

register = template.Library()


@register.filter
def tier_badge(tier: int | PriorityTier | None) -> str:
    """The tier's number and name in a badge coloured by tier (nothing for no tier)."""
    if tier is None or tier == "":
        return ""
    try:
        tier = PriorityTier(int(tier))
    except (TypeError, ValueError):  # no tier the rules give: shown as it is, never a 500
        return format_html('<span class="tier">{}</span>', tier)
    return _badge(tier.value, get_language())


@lru_cache(maxsize=64)
def _badge(value: int, language: str | None) -> str:
    """Made once per tier and language (the one active when it is made): a list of 25 rows
    looked up and formatted the same four badges 25 times."""
    tier = PriorityTier(value)
    text = _("Tier %(number)s · %(label)s") % {"number": tier.value, "label": tier.label}
    return format_html('<span class="tier tier--{}">{}</span>', tier.value, text)
