"""The policy benchmark runs end to end at a tiny scale and prints its figures."""

from booking.scheduler.benchmark import main


def test_benchmark_prints_its_figures_at_tiny_scale(capsys):
    assert main(["--scale", "0.01", "--cycles", "3"]) == 0

    printed = capsys.readouterr().out
    for figure in (
        "policy cycle p50: ",
        "policy cycle p99: ",
        "admissions per cycle (mean): ",
        "peak memory (tracemalloc) of a cycle: ",
    ):
        assert figure in printed
