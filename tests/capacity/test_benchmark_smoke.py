"""The capacity booking benchmark runs end to end at a tiny size and prints its figures."""

import pytest

from booking.capacity.benchmark import main, run


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_booking_benchmark_prints_its_figures_at_a_tiny_size() -> None:
    printed = "\n".join(run(bookings=300, requests=5, clients=3, per_client=2, seed=3))

    for figure in (
        "bookings stored",
        "availability, one GPU type x 14 days (336 hours), 5 requests:",
        "API request p50: ",
        "create, 3 concurrent clients (processes, as fast as they can) x 2 bookings",
        "create, 3 concurrent clients (processes, each every 1000 ms on average) x 2 bookings",
        "every call p50: ",
        "cold (the 2 untimed warm-up bookings of each fresh process, not counted above): p50 ",
    ):
        assert figure in printed


def test_the_booking_benchmark_says_it_skips_without_postgresql(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:///tmp/x.sqlite3")

    assert main([]) == 0
    assert "skipped" in capsys.readouterr().out
