"""The shared chart scale and the bar chart the energy reports draw."""

from decimal import Decimal

from booking.charts.bars import BarSeries, bar_chart
from booking.charts.scale import LinearScale, nice_ceiling

D = Decimal


def test_the_ceiling_is_a_round_number_at_least_the_value():
    assert [nice_ceiling(v) for v in (D("0.3"), 7, 44, 61.44, 250, 1001)] == [
        D("0.5"),
        D(10),
        D(50),
        D(100),
        D("250"),
        D(2000),
    ]


def test_ticks_are_evenly_spaced_round_labels_from_zero_to_the_top():
    scale = LinearScale.rounded(44, 260, 16)  # a vertical axis: pixels grow downwards

    ticks = scale.ticks(4)

    assert [t.label for t in ticks] == ["0", "12.5", "25", "37.5", "50"]
    assert [t.position for t in ticks] == [260, 199, 138, 77, 16]


def test_stacked_bars_sit_on_each_other_and_grouped_bars_side_by_side():
    series = [BarSeries("H100", "#000", [D(30), D(0)]), BarSeries("idle", "#999", [D(20), D(5)])]

    stacked = bar_chart(["2026-03", "2026-04"], series, unit="kWh", stacked=True)
    grouped = bar_chart(["2026-03", "2026-04"], series, unit="kWh", stacked=False)

    assert stacked is not None
    assert grouped is not None
    h100, idle_march, _idle_april = stacked.rects
    assert idle_march.y + idle_march.height == h100.y  # idle on top of the H100 segment
    assert round(h100.height / idle_march.height, 3) == 1.5  # 30 kWh against 20
    first, second = grouped.rects[:2]
    assert first.x + first.width == second.x  # side by side
    assert first.y + first.height == second.y + second.height  # both on the axis
    assert [item.label for item in stacked.legend] == ["H100", "idle"]


def test_no_chart_when_every_value_is_zero():
    assert (
        bar_chart(["2026-03"], [BarSeries("H100", "#000", [D(0)])], unit="kWh", stacked=True)
        is None
    )
