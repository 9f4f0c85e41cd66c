"""The grants benchmark runs end to end at a tiny size and prints its figures."""

import pytest

from booking.grants.benchmark import main, run


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_grants_benchmark_prints_its_figures_at_a_tiny_size() -> None:
    printed = "\n".join(run(applications=40, repeat=1))

    assert "a call of 40 applications under review" in printed
    for request in (
        "ranked_applications (selector)",
        "console call page, last page",
        "GET staff ranking API (whole)",
        "GET reviews API (reviewer's inbox)",
        "console review page of one application",
    ):
        line = next(line for line in printed.splitlines() if line.startswith(request))
        # A figure for the small call and one for the large, each with its query count.
        assert line.count(" ms (max ") == 2
        assert line.count(" q") == 2


def test_the_grants_benchmark_says_it_skips_without_postgresql(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:///tmp/x.sqlite3")

    assert main([]) == 0
    assert "skipped" in capsys.readouterr().out
