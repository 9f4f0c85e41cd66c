"""The whole-cycle benchmark runs end to end at a tiny scale and prints its figures."""

from datetime import timedelta

import pytest

from accounts.models import User
from booking.admission.benchmark import main, run
from booking.capacity.services.bookings import booking_cancel
from booking.models import CapacityBooking, CapacityHour

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


def test_the_benchmark_site_counts_its_bookings_hours_as_booking_them_does() -> None:
    """The kept site is one a person can use: each booking's hours hold its nodes, so
    cancelling one gives them back instead of failing on counters that were never made."""
    run(cycles=1, scale=0.002, seed=3, bookings=3)
    bookings = list(CapacityBooking.objects.all())
    assert bookings

    for booking in bookings:
        counted = CapacityHour.objects.filter(
            gpu_type_id=booking.gpu_type_id,
            hour__gte=booking.starts_at,
            hour__lt=booking.ends_at,
        ).values_list("booked_nodes", flat=True)
        assert len(counted) == (booking.ends_at - booking.starts_at) / timedelta(hours=1)
        assert min(counted) >= booking.node_count
    staff = User.objects.create(email="bench-staff@example.org", is_staff=True)
    booking = bookings[0]
    before = CapacityHour.objects.get(gpu_type_id=booking.gpu_type_id, hour=booking.starts_at)
    booking_cancel(booking=booking, user=staff, reason="bench check", now=booking.starts_at)
    after = CapacityHour.objects.get(pk=before.pk)
    assert after.booked_nodes == before.booked_nodes - booking.node_count


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


def test_the_form_sweep_says_it_skips_without_postgresql(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from booking.admission.form_sweep import main as sweep_main

    monkeypatch.setenv("DATABASE_URL", "sqlite:///tmp/x.sqlite3")

    assert sweep_main([]) == 0
    assert "form sweep: skipped (set DATABASE_URL" in capsys.readouterr().out


def test_the_outage_benchmark_says_it_skips_without_postgresql(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from booking.admission.outage_benchmark import main as outage_main

    monkeypatch.setenv("DATABASE_URL", "sqlite:///tmp/x.sqlite3")

    assert outage_main([]) == 0
    assert "outage benchmark: skipped (set DATABASE_URL" in capsys.readouterr().out


def test_the_outage_benchmark_counts_the_requests_that_waited_for_the_service() -> None:
    from booking.admission.outage_benchmark import _line

    line = _line(
        "cache",
        {"up": [10.0, 30.0, 20.0], "down": [520.0, 12.0, 14.0, 400.0], "statuses": {"200": 7}},
    )

    assert line == (
        "shared cache frozen (SIGSTOP), API job details: answering median 20.0 ms, max 30 ms; "
        "stopped answering median 207.0 ms, max 520 ms, 2 of 4 took 400 ms or more; "
        "statuses {'200': 7}"
    )
