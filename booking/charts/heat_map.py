"""A heat map of free bookable nodes per hour, drawn on the server as inline SVG: one row per
day and one column per hour of the day, both in the viewer's time zone. No JavaScript: a free
hour is a link (to start a booking there); every cell has a title with its figures.

Days where the clocks change have 23 or 25 hours: the hour that does not exist stays empty, and
the hour that happens twice is drawn as two half-width cells.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol, TypeVar
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

from booking.charts.scale import LegendItem

LEFT, TOP, RIGHT = 112, 28, 8
CELL_WIDTH, CELL_HEIGHT = 26, 22
WIDTH = LEFT + 24 * CELL_WIDTH + RIGHT
# A sequential blue scale (light = few free nodes); none free is grey, with a pattern-free
# legend naming each step, so colour is never the only cue (the title says the figure).
NONE_FREE = "#d9d9d9"
CLOSED, CLOSED_TEXT = "#ffffff", "#767676"
"""Hours that can no longer be booked (past, or sooner than the shortest notice)."""
STEPS = ("#deebf7", "#9ecae1", "#4292c6", "#08519c")
TEXT_ON = ("#08306b", "#08306b", "#ffffff", "#ffffff")


class HourFigures(Protocol):
    """What the map reads of an hour (``booking.capacity.availability.HourFree``)."""

    @property
    def starts_at(self) -> datetime: ...

    @property
    def free_nodes(self) -> int: ...


Hour = TypeVar("Hour", bound=HourFigures)


@dataclass(frozen=True)
class Cell:
    x: float
    y: float
    width: float
    starts_at: datetime
    free_nodes: int
    colour: str
    text_colour: str
    title: str
    href: str
    closed: bool = False


@dataclass(frozen=True)
class DayRow:
    y: float
    label: str
    day: date


@dataclass(frozen=True)
class HeatMap:
    cells: list[Cell]
    days: list[DayRow]
    hour_labels: list[tuple[float, str]]
    legend: list[LegendItem]
    height: int
    width: int = WIDTH
    cell_height: int = CELL_HEIGHT


def heat_map(
    hours: Sequence[Hour],
    *,
    zone: ZoneInfo,
    pool_nodes: int,
    open_from: datetime,
    link: Callable[[Hour], str],
) -> HeatMap | None:
    """The map of ``hours`` in ``zone``; hours before ``open_from`` are drawn as closed;
    ``link`` gives a free cell's address ("" for none)."""
    if not hours:
        return None
    local = [(hour, hour.starts_at.astimezone(zone)) for hour in hours]
    first_day = local[0][1].date()
    rows: dict[date, float] = {}
    cells = []
    for hour, moment in local:
        day = moment.date()
        y = rows.setdefault(day, TOP + (day - first_day).days * CELL_HEIGHT)
        x, width = _column(moment)
        closed = hour.starts_at < open_from
        colour, text = (CLOSED, CLOSED_TEXT) if closed else _colour(hour.free_nodes, pool_nodes)
        cells.append(
            Cell(
                x=x,
                y=y,
                width=width,
                starts_at=hour.starts_at,
                free_nodes=hour.free_nodes,
                colour=colour,
                text_colour=text,
                title=(
                    _("%(when)s: too soon to book")
                    if closed
                    else _("%(when)s: %(n)s of %(pool)s nodes free")
                )
                % {
                    "when": moment.strftime("%a %d %b %H:%M %Z"),
                    "n": hour.free_nodes,
                    "pool": pool_nodes,
                },
                href=link(hour) if hour.free_nodes > 0 and not closed else "",
                closed=closed,
            )
        )
    days = [DayRow(y, day.strftime("%a %d %b"), day) for day, y in rows.items()]
    labels = [(LEFT + h * CELL_WIDTH + CELL_WIDTH / 2, f"{h:02d}") for h in range(0, 24, 2)]
    return HeatMap(
        cells=cells,
        days=days,
        hour_labels=labels,
        legend=_legend(pool_nodes),
        height=int(max(rows.values()) + CELL_HEIGHT + 8),
    )


def _column(moment: datetime) -> tuple[float, float]:
    """x and width of a local hour: the hour that happens twice gets two halves."""
    x = LEFT + moment.hour * CELL_WIDTH
    twice = moment.replace(fold=1 - moment.fold).utcoffset() != moment.utcoffset()
    if not twice:
        return float(x), float(CELL_WIDTH)
    return float(x + (CELL_WIDTH / 2) * moment.fold), CELL_WIDTH / 2


def _colour(free: int, pool: int) -> tuple[str, str]:
    if free <= 0 or pool <= 0:
        return NONE_FREE, "#000000"
    step = min(int(len(STEPS) * free / pool), len(STEPS) - 1)
    return STEPS[step], TEXT_ON[step]


def _legend(pool: int) -> list[LegendItem]:
    legend = [LegendItem(CLOSED, _("too soon to book")), LegendItem(NONE_FREE, _("none free"))]
    for i, colour in enumerate(STEPS):
        low = max(1, -(-pool * i // len(STEPS)))
        high = pool if i == len(STEPS) - 1 else -(-pool * (i + 1) // len(STEPS)) - 1
        if high < low:
            continue  # a small pool never reaches this step
        label = f"{low}" if low == high else f"{low}\N{EN DASH}{high}"
        legend.append(LegendItem(colour, _("%(range)s free") % {"range": label}))
    return legend
