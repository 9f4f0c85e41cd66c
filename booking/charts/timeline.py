"""The console's timeline of capacity bookings, drawn on the server as inline SVG: time runs
left to right; above, the nodes booked per hour against the bookable pool; below, each booking
as a bar in the first lane free at its start. No JavaScript; every bar is a link with a title.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from django.utils.translation import gettext as _

from booking.charts.scale import Tick, palette_colour

WIDTH = 960
LEFT, RIGHT, TOP = 8, 8, 8
PROFILE_HEIGHT = 80
LANE_HEIGHT, LANE_GAP = 18, 4
CHARACTER_WIDTH = 6  # of the 10 px bar labels, roughly
# A project keeps its colour across the chart.


class BookingFigures(Protocol):
    """What the timeline reads of a booking (``booking.models.CapacityBooking``)."""

    @property
    def project_id(self) -> int: ...

    @property
    def starts_at(self) -> datetime: ...

    @property
    def ends_at(self) -> datetime: ...


Booking = TypeVar("Booking", bound=BookingFigures)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    colour: str
    label: str
    title: str
    href: str


@dataclass(frozen=True)
class Timeline:
    bars: list[Bar]
    ticks: list[Tick]
    booked_points: str
    pool_y: float
    profile_top: float
    profile_bottom: float
    height: int
    width: int = WIDTH
    lane_height: int = LANE_HEIGHT


def timeline(
    bookings: Sequence[Booking],
    *,
    starts_at: datetime,
    ends_at: datetime,
    booked_per_hour: Sequence[int],
    pool_nodes: int,
    label: Callable[[Booking], str],
    link: Callable[[Booking], str],
) -> Timeline:
    """The timeline of ``[starts_at, ends_at)``; ``booked_per_hour`` has one figure per hour,
    ``label`` and ``link`` give a bar's text and address."""
    span = (ends_at - starts_at).total_seconds()
    usable = WIDTH - LEFT - RIGHT

    def x(moment: datetime) -> float:
        clipped = min(max(moment, starts_at), ends_at)
        return round(LEFT + usable * (clipped - starts_at).total_seconds() / span, 1)

    top = max([pool_nodes, *booked_per_hour, 1])

    def y(nodes: int) -> float:
        return round(TOP + PROFILE_HEIGHT * (1 - nodes / top), 1)

    points = []
    for i, nodes in enumerate(booked_per_hour):
        hour = starts_at + timedelta(hours=i)
        points += [f"{x(hour)},{y(nodes)}", f"{x(hour + timedelta(hours=1))},{y(nodes)}"]
    lanes: list[datetime] = []
    bars = []
    lanes_top = TOP + PROFILE_HEIGHT + 24
    colours: dict[int, str] = {}
    for booking in bookings:
        lane = next((i for i, end in enumerate(lanes) if end <= booking.starts_at), len(lanes))
        if lane == len(lanes):
            lanes.append(booking.ends_at)
        lanes[lane] = booking.ends_at
        colour = colours.setdefault(booking.project_id, palette_colour(len(colours)))
        left = x(booking.starts_at)
        width = max(x(booking.ends_at) - left, 2.0)
        text = label(booking)
        bars.append(
            Bar(
                x=left,
                y=lanes_top + lane * (LANE_HEIGHT + LANE_GAP),
                width=width,
                colour=colour,
                # Written inside the bar only when it fits; the title always has it.
                label=text if len(text) * CHARACTER_WIDTH + 6 <= width else "",
                title=_("%(label)s, %(start)s to %(end)s UTC")
                % {
                    "label": label(booking),
                    "start": f"{booking.starts_at:%Y-%m-%d %H:%M}",
                    "end": f"{booking.ends_at:%Y-%m-%d %H:%M}",
                },
                href=link(booking),
            )
        )
    days = int(span // 86400)
    ticks = [
        Tick(x(starts_at + timedelta(days=d)), f"{starts_at + timedelta(days=d):%a %d %b}")
        for d in range(0, days, max(days // 7, 1))
    ]
    return Timeline(
        bars=bars,
        ticks=ticks,
        booked_points=" ".join(points),
        pool_y=y(pool_nodes),
        profile_top=TOP,
        profile_bottom=TOP + PROFILE_HEIGHT,
        height=int(lanes_top + max(len(lanes), 1) * (LANE_HEIGHT + LANE_GAP) + 8),
    )
