"""Bar charts per category (e.g. per month), drawn on the server as inline SVG: stacked
(energy by GPU type) or side by side (emissions against the comparison grid). The same figures
are always in a table next to the chart."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from booking.charts.scale import LegendItem, LinearScale, Tick

WIDTH, HEIGHT = 720, 280
LEFT, RIGHT, TOP, BOTTOM = 72, 16, 16, 40


@dataclass(frozen=True)
class BarSeries:
    """One named series with a value per category, in the categories' order."""

    name: str
    colour: str
    values: Sequence[Decimal]


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass(frozen=True)
class BarChart:
    rects: list[Rect]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    legend: list[LegendItem]
    unit: str
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT
    bottom_edge: int = HEIGHT - BOTTOM


def bar_chart(
    categories: Sequence[str],
    series: Sequence[BarSeries],
    *,
    unit: str,
    stacked: bool,
) -> BarChart | None:
    """Bars of ``series`` per category; None when every value is 0."""
    if not categories:
        return None
    sums = [sum((s.values[i] for s in series), Decimal(0)) for i in range(len(categories))]
    top = max(sums if stacked else [v for s in series for v in s.values], default=Decimal(0))
    if top <= 0:
        return None
    y = LinearScale.rounded(top, HEIGHT - BOTTOM, TOP)
    slot = (WIDTH - LEFT - RIGHT) / len(categories)
    bar = slot * 0.7 if stacked else slot * 0.7 / max(len(series), 1)
    rects = []
    for i, category in enumerate(categories):
        x0, base = LEFT + slot * (i + 0.15), Decimal(0)
        for j, s in enumerate(series):
            value = s.values[i]
            if value <= 0:
                continue
            bottom = y(base) if stacked else y(0)
            top_px = y(base + value) if stacked else y(value)
            x = x0 if stacked else x0 + bar * j
            title = f"{category} · {s.name}: {value:,.1f} {unit}"
            rects.append(
                Rect(
                    round(x, 1),
                    round(top_px, 1),
                    round(bar, 1),
                    round(bottom - top_px, 1),
                    s.colour,
                    title,
                )
            )
            base += value if stacked else 0
    x_ticks = [Tick(LEFT + slot * (i + 0.5), c) for i, c in enumerate(categories)]
    legend = [LegendItem(s.colour, s.name) for s in series]
    return BarChart(rects=rects, y_ticks=y.ticks(4), x_ticks=x_ticks, legend=legend, unit=unit)
