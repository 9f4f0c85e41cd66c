"""The energy benchmark runs end to end at a tiny size and prints its figures."""

import pytest

from booking.energy.benchmark import main, run


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_energy_benchmark_prints_its_figures_at_a_tiny_size() -> None:
    printed = "\n".join(run(records=2_000, repeat=1))

    for figure in (
        "2,000 job energy records over 12 months",
        "organisation report, one month: median ",
        "organisation report, 12 months: median ",
        "GET organisation report API, 12 months: median ",
        "public aggregates, 12 months, no cache: median ",
        "job_energy_account, a job that just ended: median ",
        "energy_recompute, one month (",
    ):
        assert figure in printed


def test_the_energy_benchmark_says_it_skips_without_postgresql(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:///tmp/x.sqlite3")

    assert main([]) == 0
    assert "skipped" in capsys.readouterr().out
