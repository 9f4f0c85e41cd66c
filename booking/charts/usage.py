"""A usage chart drawn on the server as inline SVG: cumulative GPU-hours charged per day,
one line per GPU type. No JavaScript; the same figures are also given as a table."""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 36
# Distinguishable for common colour-vision deficiencies (Okabe-Ito); the legend names each.
COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9")


@dataclass(frozen=True)
class Series:
    name: str
    colour: str
    points: str  # SVG polyline points
    total_gpu_hours: Decimal


@dataclass(frozen=True)
class Tick:
    position: float
    label: str
    anchor: str = "middle"  # SVG text-anchor: the first and last date stay inside the chart


@dataclass(frozen=True)
class UsageChart:
    series: list[Series]
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT
    bottom_edge: int = HEIGHT - BOTTOM


def usage_chart(
    charged: dict[str, list[tuple[date, Decimal]]], *, start: date, end: date
) -> UsageChart | None:
    """The chart of ``charged`` (type → daily GPU-hours) from ``start`` to ``end``; None if
    nothing was charged."""
    cumulative = {name: _cumulative(days, start, end) for name, days in sorted(charged.items())}
    top = max((value for days in cumulative.values() for _d, value in days), default=Decimal(0))
    if top <= 0:
        return None
    scale_top = _nice_ceiling(top)
    span = max((end - start).days, 1)

    def x(day: date) -> float:
        return LEFT + (WIDTH - LEFT - RIGHT) * (day - start).days / span

    def y(value: Decimal) -> float:
        return TOP + (HEIGHT - TOP - BOTTOM) * float(1 - value / scale_top)

    series = [
        Series(
            name=name,
            colour=COLOURS[i % len(COLOURS)],
            points=" ".join(f"{x(d):.1f},{y(v):.1f}" for d, v in days),
            total_gpu_hours=days[-1][1] if days else Decimal(0),
        )
        for i, (name, days) in enumerate(cumulative.items())
    ]
    y_ticks = [Tick(y(scale_top * i / 4), f"{scale_top * i / 4:,.0f}") for i in range(5)]
    x_ticks = [
        Tick(x(day), day.isoformat(), "start" if i == 0 else "end" if i == 4 else "middle")
        for i, day in enumerate(start + timedelta(days=round(span * i / 4)) for i in range(5))
    ]
    return UsageChart(series=series, y_ticks=y_ticks, x_ticks=x_ticks)


def _cumulative(
    days: list[tuple[date, Decimal]], start: date, end: date
) -> list[tuple[date, Decimal]]:
    """The running total at ``start``, after each charging day, and at ``end``."""
    total = sum((hours for day, hours in days if day < start), Decimal(0))
    points = [(start, total)]
    for day, hours in days:
        if start <= day <= end:
            total += hours
            points.append((day, total))
    points.append((end, total))
    return points


def _nice_ceiling(value: Decimal) -> Decimal:
    """The smallest of 1, 2, 2.5, 5 x 10^n that is at least ``value``."""
    magnitude = Decimal(10) ** (len(str(int(value))) - 1)
    for step in (1, 2, Decimal("2.5"), 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude
