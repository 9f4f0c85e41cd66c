"""Energy figures as people read them: at most three decimals, no trailing zeros."""

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def figure(value: Decimal | float | None) -> str:
    """Decimal("38.400000") → "38.4"; 12345.6789 → "12,345.679"; None → "—"."""
    if value is None:
        return "—"
    text = f"{Decimal(value):,.3f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@register.filter
def percent(value: Decimal | float | None) -> str:
    """Decimal("0.9") → "90 %"."""
    if value is None:
        return "—"
    return f"{Decimal(value) * 100:.1f}".rstrip("0").rstrip(".") + " %"
