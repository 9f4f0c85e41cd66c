"""A project's charges per day (the usage chart) and its burn rates: the same figures as its
whole history, read from the checkpoints and the entries after them, so that a project page
does not grow with the project's history."""

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection

from booking.ledger import checkpoints
from booking.ledger.checkpoints import ledger_checkpoints_advance
from booking.ledger.selectors import balances_of, charged_per_day, project_burn_rates
from booking.ledger.services import (
    ledger_charge,
    ledger_grant,
    ledger_hold,
    ledger_refund,
    ledger_release,
)
from booking.models import Allocation, LedgerCheckpoint, LedgerEntry
from stargate_portal.postgresql.costs import rows_read
from tests.factories import AllocationFactory, GpuTypeFactory

pytestmark = pytest.mark.django_db
H = Decimal
NOON = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)


def days_ago(n: int) -> datetime:
    return NOON - timedelta(days=n)


def target(allocation: Allocation) -> dict[str, object]:
    return {"project": allocation.project, "gpu_type": allocation.gpu_type}


def charge_on(allocation: Allocation, when: datetime, hours: int, key: str) -> None:
    with time_machine.travel(when, tick=False):
        ledger_charge(**target(allocation), gpu_hours=H(hours), key=key)


def history_per_day(allocation: Allocation, since: date) -> list[tuple[date, Decimal]]:
    """What the chart must show, from every entry: one point before ``since`` with everything
    charged earlier, then each day's charges net of refunds."""
    days: dict[date, Decimal] = defaultdict(Decimal)
    for entry in LedgerEntry.objects.filter(
        project=allocation.project, gpu_type=allocation.gpu_type, kind__in=["charge", "refund"]
    ):
        days[entry.created_at.astimezone(UTC).date()] += entry.gpu_hours
    earlier = sum((hours for day, hours in days.items() if day < since), H(0))
    shown = sorted((day, hours) for day, hours in days.items() if day >= since)
    return ([(since - timedelta(days=1), earlier)] if earlier else []) + shown


@pytest.fixture
def allocation() -> Allocation:
    allocation = AllocationFactory(
        gpu_type=GpuTypeFactory(name="H100"),
        starts_on=days_ago(60).date(),
        ends_on=days_ago(-300).date(),
    )
    with time_machine.travel(days_ago(60), tick=False):
        ledger_grant(**target(allocation), gpu_hours=H(100_000), key="grant")
    return allocation


def test_charges_per_day_are_the_historys_before_and_after_checkpoints_fold_them(
    allocation: Allocation,
) -> None:
    since = days_ago(10).date()
    for n, ago in enumerate([40, 20, 11, 10, 10, 9, 3, 3, 1, 0]):
        charge_on(allocation, days_ago(ago), 10 + n, f"charge-{n}")
    with time_machine.travel(days_ago(3), tick=False):
        ledger_refund(**target(allocation), gpu_hours=H(5), key="refund-3")
    expected = history_per_day(allocation, since)
    unfolded = charged_per_day(allocation.project, since=since)

    ledger_checkpoints_advance(min_entries=1)
    folded = charged_per_day(allocation.project, since=since)
    charge_on(allocation, days_ago(0), 7, "after-the-fold")  # in no checkpoint yet
    later = charged_per_day(allocation.project, since=since)

    assert unfolded == folded == {"H100": expected}
    assert expected[0] == (since - timedelta(days=1), H(10 + 11 + 12))  # 40, 20, 11 days ago
    assert (days_ago(3).date(), H(16 + 17 - 5)) in expected
    assert later == {"H100": history_per_day(allocation, since)}
    assert later["H100"][-1] == (days_ago(0).date(), H(19 + 7))


def test_a_checkpoint_keeps_its_last_days_and_earlier_ones_only_in_its_total(
    allocation: Allocation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checkpoints, "DAYS_KEPT", 3)
    for ago in range(8, -1, -1):
        charge_on(allocation, days_ago(ago), 100 + ago, f"charge-{ago}")
    ledger_checkpoints_advance(min_entries=1)

    checkpoint = LedgerCheckpoint.objects.get()
    since = days_ago(2).date()

    assert sorted(checkpoint.charged_days) == [days_ago(n).date().isoformat() for n in (2, 1, 0)]
    assert checkpoint.charged == H(sum(100 + ago for ago in range(9)))
    assert charged_per_day(allocation.project, since=since) == {
        "H100": history_per_day(allocation, since)
    }


def test_a_project_with_nothing_charged_has_no_days(allocation: Allocation) -> None:
    ledger_hold(**target(allocation), gpu_hours=H(5), key="hold")
    ledger_checkpoints_advance(min_entries=1)

    assert charged_per_day(allocation.project, since=days_ago(5).date()) == {}


def test_burn_rates_take_the_last_day_and_week_of_charges_and_the_balances_hold(
    allocation: Allocation,
) -> None:
    other_type = AllocationFactory(
        project=allocation.project,
        gpu_type=GpuTypeFactory(name="H200"),
        starts_on=allocation.starts_on,
        ends_on=allocation.ends_on,
    )
    with time_machine.travel(days_ago(30), tick=False):
        ledger_grant(**target(other_type), gpu_hours=H(1_000), key="grant-h200")
        ledger_hold(**target(other_type), gpu_hours=H(40), key="old-hold")  # held for 30 days
    charge_on(allocation, days_ago(10), 500, "too-old")
    charge_on(allocation, days_ago(3), 70, "this-week")
    charge_on(allocation, NOON - timedelta(hours=2), 24, "today")
    with time_machine.travel(NOON, tick=False):
        ledger_hold(**target(allocation), gpu_hours=H(8), key="hold")
        ledger_hold(**target(allocation), gpu_hours=H(3), key="hold-2")
        ledger_release(**target(allocation), gpu_hours=H(3), key="hold-2-release")
    ledger_checkpoints_advance(min_entries=1)

    rates = {rate.gpu_type: rate for rate in project_burn_rates(allocation.project, now=NOON)}

    assert rates["H100"].charged_24h_gpu_hours == H(24)
    assert rates["H100"].charged_7d_gpu_hours == H(94)
    assert (
        rates["H100"].held_gpu_hours == H(8) == balances_of(project=allocation.project)["H100"].held
    )
    assert rates["H100"].average_gpus_24h == H("1.0")
    assert (rates["H200"].charged_7d_gpu_hours, rates["H200"].held_gpu_hours) == (H(0), H(40))


def charged_since(allocation: Allocation, start: datetime) -> Decimal:
    entries = LedgerEntry.objects.filter(
        project=allocation.project,
        gpu_type=allocation.gpu_type,
        kind__in=["charge", "refund"],
        created_at__gte=start,
    )
    return sum((entry.gpu_hours for entry in entries), H(0))


@pytest.mark.parametrize("minute", [0, 1, 29, 59])
def test_burn_rates_count_exactly_the_charges_inside_each_window_around_its_start(
    allocation: Allocation, minute: int
) -> None:
    now = NOON.replace(minute=minute, second=30)
    # Charges a few minutes on both sides of each window's start. A fold comes after the first
    # five of each window: the 24-hour window's are all folded at the end, the last four of
    # the week's are not (entries after a checkpoint are the later ids, whatever their time).
    for window in (timedelta(hours=24), timedelta(days=7)):
        for n, offset in enumerate([-90, -31, -1, 0, 1, 29, 31, 61, 89]):
            charge_on(allocation, now - window + timedelta(minutes=offset), n + 1, f"{window}-{n}")
            if n == 4:
                ledger_checkpoints_advance(min_entries=1)
    with time_machine.travel(now - timedelta(minutes=5), tick=False):
        ledger_refund(**target(allocation), gpu_hours=H(2), key="refund-late")  # unfolded

    (rate,) = project_burn_rates(allocation.project, now=now)

    assert rate.charged_24h_gpu_hours == charged_since(allocation, now - timedelta(hours=24))
    assert rate.charged_7d_gpu_hours == charged_since(allocation, now - timedelta(days=7))
    assert rate.charged_24h_gpu_hours != charged_since(allocation, now - timedelta(hours=25))


@pytest.mark.postgres
def test_the_chart_and_burn_rates_read_no_more_rows_as_the_folded_history_grows(
    allocation: Allocation,
) -> None:
    since = days_ago(5).date()

    def grow(days: range, prefix: str) -> int:
        for ago in days:
            for n in range(40):
                charge_on(allocation, days_ago(ago), 1, f"{prefix}-{ago}-{n}")
        ledger_checkpoints_advance(min_entries=1)
        charge_on(allocation, days_ago(0), 1, f"{prefix}-unfolded")
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE booking_ledgerentry")
        before = rows_read()
        charged_per_day(allocation.project, since=since)
        project_burn_rates(allocation.project, now=NOON)
        return rows_read() - before

    # Old history (10 to 40 days ago): folded by the checkpoint, never read again.
    small = grow(range(40, 30, -1), "first")
    large = grow(range(30, 10, -1), "second")

    assert charged_per_day(allocation.project, since=since) == {
        "H100": history_per_day(allocation, since)
    }
    assert large <= small + 5, (small, large)  # 800 more entries, none of them read
