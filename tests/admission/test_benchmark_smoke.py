"""The whole-cycle benchmark runs end to end at a tiny scale and prints its figures."""

import pytest

from booking.admission.benchmark import main, run

pytestmark = pytest.mark.django_db


def test_the_whole_cycle_benchmark_prints_its_figures_at_tiny_scale() -> None:
    printed = "\n".join(run(cycles=3, scale=0.002, seed=3, bookings=3))

    for figure in (
        "with 3 active bookings",
        "with bookings: whole cycle p99: ",
        "whole cycle p99 with bookings / without: ",
        "cold cycle (full snapshot load",
        "whole cycle p50: ",
        "whole cycle p99: ",
        "sustained admissions/s under saturation",
        "peak memory (tracemalloc) of a warm cycle: ",
    ):
        assert figure in printed


def test_the_benchmark_says_it_skips_without_postgresql(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:///tmp/x.sqlite3")

    assert main([]) == 0
    assert "skipped" in capsys.readouterr().out


def test_the_load_benchmark_says_it_skips_without_postgresql(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from booking.admission.load_benchmark import main as load_main

    monkeypatch.setenv("DATABASE_URL", "sqlite:///tmp/x.sqlite3")

    assert load_main([]) == 0
    assert "load benchmark: skipped (set DATABASE_URL" in capsys.readouterr().out
