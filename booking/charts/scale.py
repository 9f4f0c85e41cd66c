"""What every chart shares: the palette, a linear scale with round ticks, tick marks and
legend items. The chart modules (usage, cluster, timeline, heat map, energy) draw their own
shapes with these; the templates render them as inline SVG (no JavaScript, no inline style).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

# Distinguishable for common colour-vision deficiencies (Okabe-Ito); a legend names each.
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9")
GREY = "#999999"
TIER_COLOURS = {1: PALETTE[2], 2: PALETTE[5], 3: PALETTE[4], 4: PALETTE[3]}
"""Each priority tier keeps its colour on every chart."""


def palette_colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


@dataclass(frozen=True)
class Tick:
    """A labelled mark on an axis, ``position`` in pixels along it."""

    position: float
    label: str
    anchor: str = "middle"  # SVG text-anchor: the first and last labels stay inside the chart


@dataclass(frozen=True)
class LegendItem:
    colour: str
    label: str


def nice_ceiling(value: Decimal | float | int) -> Decimal:
    """The smallest of 1, 2, 2.5, 5 x 10^n that is at least ``value`` (1 for 0 or less)."""
    value = Decimal(str(value))
    if value <= 0:
        return Decimal(1)
    magnitude = Decimal(10) ** value.adjusted()
    for step in (1, 2, Decimal("2.5"), 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


@dataclass(frozen=True)
class LinearScale:
    """Values from 0 to ``top`` onto pixels from ``start`` to ``end`` (``end`` < ``start``
    for a vertical axis, whose pixels grow downwards)."""

    top: Decimal
    start: float
    end: float

    @classmethod
    def rounded(cls, largest: Decimal | float | int, start: float, end: float) -> LinearScale:
        return cls(nice_ceiling(largest), start, end)

    def __call__(self, value: Decimal | float | int) -> float:
        share = float(Decimal(str(value)) / self.top) if self.top else 0.0
        return self.start + (self.end - self.start) * min(max(share, 0.0), 1.0)

    def length(self, value: Decimal | float | int) -> float:
        """The pixels ``value`` spans (for bars)."""
        return abs(self(value) - self.start)

    def ticks(self, count: int = 4, label: Callable[[Decimal], str] | None = None) -> list[Tick]:
        """``count`` + 1 evenly spaced round values from 0 to the top."""
        label = label or _round_label
        values = [self.top * i / count for i in range(count + 1)]
        return [Tick(self(v), label(v)) for v in values]


def _round_label(value: Decimal) -> str:
    """12.5 → "12.5", 25 → "25", 1250 → "1,250"."""
    return f"{value:,.2f}".rstrip("0").rstrip(".")
