"""The cluster overview of the console: figures per GPU type, and a bar chart of them drawn on
the server as inline SVG (no JavaScript; the same figures are in the table beside it).

Per GPU type the chart has two bars on one GPU scale: the nodes (GPUs in use, free, down) and
the GPUs that pending jobs ask for, by priority tier. Demand beyond the largest GPU type's
capacity is drawn to the edge and its figure written next to it.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from django.utils.translation import gettext as _

from accounts.tiers import PriorityTier
from booking.charts.scale import GREY, PALETTE, TIER_COLOURS, LegendItem, Tick

TIERS = tuple(int(tier) for tier in PriorityTier)
WIDTH = 720
LEFT, RIGHT, TOP = 96, 150, 24
BAR, GAP, BLOCK = 18, 6, 22
USED, FREE, DOWN = PALETTE[0], "#d7e6f2", GREY
Scale = Callable[[int], float]


class GpuTypeFigures(Protocol):
    """What the chart reads of a GPU type's queue (``booking.jobs.queue.GpuTypeQueue``)."""

    gpu_type: str
    total_gpus: int
    usable_gpus: int
    used_gpus: int
    jobs: dict[str, dict[int, int]]
    gpus: dict[str, dict[int, int]]


@dataclass(frozen=True)
class ClusterRow:
    """One GPU type: its GPUs, and its jobs and GPUs per state and tier."""

    gpu_type: str
    total_gpus: int
    usable_gpus: int
    used_gpus: int
    pending_jobs: tuple[int, ...]  # by tier 1..4
    pending_gpus: tuple[int, ...]
    held_jobs: int
    admitted_jobs: int
    running_jobs: int

    @property
    def free_gpus(self) -> int:
        return max(self.usable_gpus - self.used_gpus, 0)

    @property
    def down_gpus(self) -> int:
        return self.total_gpus - self.usable_gpus

    @property
    def pending_jobs_total(self) -> int:
        return sum(self.pending_jobs)

    @property
    def pending_gpus_total(self) -> int:
        return sum(self.pending_gpus)

    @property
    def tiers(self) -> list[tuple[int, int, int]]:
        """``(tier, pending jobs, pending GPUs)`` for tiers 1 to 4."""
        return list(zip(TIERS, self.pending_jobs, self.pending_gpus, strict=True))


def cluster_rows(queues: Sequence[GpuTypeFigures]) -> list[ClusterRow]:
    def total(counts: dict[str, dict[int, int]], state: str) -> int:
        return sum(counts.get(state, {}).values())

    return [
        ClusterRow(
            gpu_type=queue.gpu_type,
            total_gpus=queue.total_gpus,
            usable_gpus=queue.usable_gpus,
            used_gpus=queue.used_gpus,
            pending_jobs=tuple(queue.jobs.get("pending", {}).get(t, 0) for t in TIERS),
            pending_gpus=tuple(queue.gpus.get("pending", {}).get(t, 0) for t in TIERS),
            held_jobs=total(queue.jobs, "held"),
            admitted_jobs=total(queue.jobs, "admitted"),
            running_jobs=total(queue.jobs, "running"),
        )
        for queue in queues
    ]


@dataclass(frozen=True)
class Segment:
    x: float
    width: float
    colour: str
    title: str


@dataclass(frozen=True)
class Bar:
    y: float
    label: str
    segments: list[Segment]
    figure: str
    figure_x: float
    clipped: bool = False


@dataclass(frozen=True)
class ClusterChart:
    bars: list[Bar]
    names: list[tuple[float, str]]  # (y, GPU type) at the middle of each block
    ticks: list[Tick]
    legend: list[LegendItem]
    height: int
    width: int = WIDTH
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT
    axis_y: float = 0.0
    grid_bottom: float = 0.0
    bar_height: int = BAR


def cluster_chart(rows: Sequence[ClusterRow]) -> ClusterChart | None:
    """The chart of ``rows``; None when the site has no GPUs at all."""
    scale = max((row.total_gpus for row in rows), default=0)
    if scale <= 0:
        return None
    span = WIDTH - LEFT - RIGHT

    def width_of(gpus: int) -> float:
        return span * min(gpus, scale) / scale

    bars, names = [], []
    y = float(TOP)
    for row in rows:
        bars.append(_capacity_bar(row, y, width_of))
        bars.append(_demand_bar(row, y + BAR + GAP, width_of, scale))
        names.append((y + BAR + GAP / 2, row.gpu_type))
        y += 2 * BAR + GAP + BLOCK
    ticks = [Tick(LEFT + span * i / 4, f"{round(scale * i / 4):,}") for i in range(5)]
    legend = [
        LegendItem(USED, _("GPUs in use")),
        LegendItem(FREE, _("free")),
        LegendItem(DOWN, _("down")),
        *(
            LegendItem(TIER_COLOURS[t], _("waiting, %(tier)s") % {"tier": PriorityTier(t).label})
            for t in TIERS
        ),
    ]
    height = int(y - BLOCK + 28)
    return ClusterChart(
        bars=bars,
        names=names,
        ticks=ticks,
        legend=legend,
        height=height,
        axis_y=height - 14,
        grid_bottom=y - BLOCK + 4,
    )


def _capacity_bar(row: ClusterRow, y: float, width_of: Scale) -> Bar:
    parts = [
        (row.used_gpus, USED, _("%(n)s GPUs in use") % {"n": f"{row.used_gpus:,}"}),
        (row.free_gpus, FREE, _("%(n)s GPUs free") % {"n": f"{row.free_gpus:,}"}),
        (row.down_gpus, DOWN, _("%(n)s GPUs down") % {"n": f"{row.down_gpus:,}"}),
    ]
    segments, x = _stack(parts, width_of)
    figure = _("%(used)s of %(total)s in use") % {
        "used": f"{row.used_gpus:,}",
        "total": f"{row.total_gpus:,}",
    }
    return Bar(y=y, label=_("nodes"), segments=segments, figure=figure, figure_x=x + 6)


def _demand_bar(row: ClusterRow, y: float, width_of: Scale, scale: int) -> Bar:
    parts = [
        (
            gpus,
            TIER_COLOURS[tier],
            _("%(tier)s: %(n)s GPUs waiting")
            % {"tier": PriorityTier(tier).label, "n": f"{gpus:,}"},
        )
        for tier, _jobs, gpus in row.tiers
    ]
    segments, x = _stack(parts, width_of)
    figure = _("%(n)s GPUs waiting") % {"n": f"{row.pending_gpus_total:,}"}
    clipped = row.pending_gpus_total > scale
    return Bar(
        y=y, label=_("waiting"), segments=segments, figure=figure, figure_x=x + 6, clipped=clipped
    )


def _stack(parts: list[tuple[int, str, str]], width_of: Scale) -> tuple[list[Segment], float]:
    """Segments side by side from the left; the scale stops them at the edge of the chart."""
    segments, used = [], 0
    for gpus, colour, title in parts:
        if gpus <= 0:
            continue
        start = LEFT + width_of(used)
        end = LEFT + width_of(used + gpus)
        used += gpus
        if end > start:
            segments.append(Segment(round(start, 1), round(end - start, 1), colour, title))
    return segments, LEFT + width_of(used)
