"""A usage chart drawn on the server as inline SVG: cumulative GPU-hours charged per day,
one line per GPU type. No JavaScript; the same figures are also given as a table."""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from booking.charts.scale import LinearScale, Tick, palette_colour

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 36


@dataclass(frozen=True)
class Series:
    name: str
    colour: str
    points: str  # SVG polyline points
    total_gpu_hours: Decimal


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
    y = LinearScale.rounded(top, HEIGHT - BOTTOM, TOP)
    span = max((end - start).days, 1)
    x = LinearScale(Decimal(span), LEFT, WIDTH - RIGHT)

    series = [
        Series(
            name=name,
            colour=palette_colour(i),
            points=" ".join(f"{x((d - start).days):.1f},{y(v):.1f}" for d, v in days),
            total_gpu_hours=days[-1][1] if days else Decimal(0),
        )
        for i, (name, days) in enumerate(cumulative.items())
    ]
    y_ticks = y.ticks(4, label=lambda v: f"{v:,.0f}")
    x_ticks = [
        Tick(
            x((day - start).days),
            day.isoformat(),
            "start" if i == 0 else "end" if i == 4 else "middle",
        )
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


def _anchor(index: int, *, last: int) -> str:
    return "start" if index == 0 else "end" if index == last else "middle"
