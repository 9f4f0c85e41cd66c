"""The GPU-hour ledger: balances, limits, idempotency, append-only."""

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from django.db import DatabaseError, connection, transaction

from booking.ledger.selectors import Balance, balance_of, balances_of
from booking.ledger.services import (
    Movement,
    ledger_adjust,
    ledger_charge,
    ledger_grant,
    ledger_hold,
    ledger_refund,
    ledger_release,
)
from booking.models import Allocation, LedgerEntry, ProjectState
from booking.models.ledger import AppendOnlyError
from stargate_portal.errors import Conflict, ValidationFailed
from tests.factories import AllocationFactory, GpuTypeFactory

pytestmark = pytest.mark.django_db
H = Decimal


@pytest.fixture
def allocation() -> Allocation:
    allocation = AllocationFactory()
    ledger_grant(
        project=allocation.project, gpu_type=allocation.gpu_type, gpu_hours=H(100), key="grant-1"
    )
    return allocation


def move(
    service: Callable[..., Movement],
    allocation: Allocation,
    hours: float,
    key: str,
    **extra: object,
) -> Movement:
    """Call a ledger service on the allocation's (project, GPU type)."""
    return service(
        project=allocation.project,
        gpu_type=allocation.gpu_type,
        gpu_hours=H(str(hours)),
        key=key,
        **extra,
    )


def balance(allocation: Allocation) -> Balance:
    return balance_of(project=allocation.project, gpu_type=allocation.gpu_type)


def test_balance_follows_grant_hold_release_charge_refund(allocation: Allocation) -> None:
    move(ledger_hold, allocation, 30, "hold-1")
    move(ledger_release, allocation, 30, "release-1")
    move(ledger_charge, allocation, 12.5, "charge-1")
    move(ledger_refund, allocation, 2.5, "refund-1")
    after = balance(allocation)
    assert (after.granted, after.held, after.charged) == (H(100), H(0), H(10))
    assert after.available == H(90)


def test_hold_above_available_is_refused_and_writes_nothing(allocation: Allocation) -> None:
    move(ledger_hold, allocation, 80, "hold-1")
    with pytest.raises(Conflict) as refused:
        move(ledger_hold, allocation, 20.5, "hold-2")
    assert refused.value.code == "insufficient_gpu_hours"
    assert refused.value.details["available_gpu_hours"] == "20.0000"
    assert not LedgerEntry.objects.filter(idempotency_key="hold-2").exists()


def test_replayed_key_returns_the_first_entry_and_changes_nothing(allocation: Allocation) -> None:
    first = move(ledger_hold, allocation, 10, "job-1-hold")
    again = move(ledger_hold, allocation, 10, "job-1-hold")
    assert first.created
    assert not again.created
    assert again.entry.pk == first.entry.pk
    assert balance(allocation).held == H(10)


def test_key_reused_for_another_amount_is_a_conflict(allocation: Allocation) -> None:
    move(ledger_hold, allocation, 10, "job-1-hold")
    with pytest.raises(Conflict) as refused:
        move(ledger_hold, allocation, 11, "job-1-hold")
    assert refused.value.code == "ledger_key_conflict"


def test_suspended_project_cannot_be_charged_or_hold(allocation: Allocation) -> None:
    allocation.project.state = ProjectState.SUSPENDED
    allocation.project.save()
    for spend in (ledger_hold, ledger_charge):
        with pytest.raises(Conflict) as refused:
            move(spend, allocation, 1, f"{spend.__name__}-x")
        assert refused.value.code == "project_suspended"
    assert balance(allocation).available == H(100)


def test_suspended_project_can_still_release(allocation: Allocation) -> None:
    move(ledger_hold, allocation, 5, "h")
    allocation.project.state = ProjectState.SUSPENDED
    allocation.project.save()
    move(ledger_release, allocation, 5, "r")
    assert balance(allocation).held == H(0)


def test_release_and_refund_cannot_exceed_what_was_held_or_charged(allocation: Allocation) -> None:
    move(ledger_hold, allocation, 5, "h")
    with pytest.raises(Conflict, match="release"):
        move(ledger_release, allocation, 6, "r")
    with pytest.raises(Conflict, match="refund"):
        move(ledger_refund, allocation, 1, "f")


def test_negative_adjustment_cannot_take_more_than_available(allocation: Allocation) -> None:
    move(ledger_hold, allocation, 60, "h")
    with pytest.raises(Conflict):
        move(ledger_adjust, allocation, -41, "adj", actor=None, reason="typo")
    move(ledger_adjust, allocation, -40, "adj2", actor=None, reason="typo")
    assert balance(allocation).available == H(0)


def test_adjustment_needs_a_reason(allocation: Allocation) -> None:
    with pytest.raises(ValidationFailed):
        move(ledger_adjust, allocation, 5, "a", actor=None, reason=" ")


def test_zero_or_negative_amounts_are_invalid(allocation: Allocation) -> None:
    for amount in (H(0), H(-1)):
        with pytest.raises(ValidationFailed):
            move(ledger_hold, allocation, float(amount), f"h{amount}")


def test_gpu_type_without_allocation_is_refused(allocation: Allocation) -> None:
    other = GpuTypeFactory(name="H200", memory_gb=141, power_watts=700)
    with pytest.raises(Conflict) as refused:
        ledger_hold(project=allocation.project, gpu_type=other, gpu_hours=H(1), key="h")
    assert refused.value.code == "no_allocation"


def test_allocation_outside_its_dates_cannot_be_spent(allocation: Allocation) -> None:
    with time_machine.travel(datetime(2100, 1, 1, tzinfo=UTC)), pytest.raises(Conflict) as refused:
        move(ledger_hold, allocation, 1, "late")
    assert refused.value.code == "allocation_inactive"


def test_balances_of_a_project_take_three_queries(
    allocation: Allocation, django_assert_num_queries: object
) -> None:
    h200 = AllocationFactory(
        project=allocation.project,
        gpu_type=GpuTypeFactory(name="H200", memory_gb=141, power_watts=700),
    )
    ledger_grant(project=h200.project, gpu_type=h200.gpu_type, gpu_hours=H(7), key="g200")
    # Its allocations, their checkpoints, the entries after them (tests/ledger/test_checkpoints).
    with django_assert_num_queries(3):  # type: ignore[operator]
        balances = balances_of(project=allocation.project)
    assert balances["H100"].granted == H(100)
    assert balances["H200"].available == H(7)


def test_ledger_entries_cannot_be_updated_or_deleted_through_the_orm(
    allocation: Allocation,
) -> None:
    entry = LedgerEntry.objects.get(idempotency_key="grant-1")
    entry.gpu_hours = H(1_000_000)
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        LedgerEntry.objects.filter(pk=entry.pk).update(gpu_hours=H(1))
    with pytest.raises(AppendOnlyError):
        LedgerEntry.objects.all().delete()


@pytest.mark.postgres
def test_postgresql_itself_refuses_update_and_delete_of_ledger_rows(allocation: Allocation) -> None:
    entry = LedgerEntry.objects.get(idempotency_key="grant-1")
    for sql in (
        "UPDATE booking_ledgerentry SET gpu_hours = 1 WHERE id = %s",
        "DELETE FROM booking_ledgerentry WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [entry.pk])
    entry.refresh_from_db()
    assert entry.gpu_hours == H(100)


def test_a_refusal_inside_the_callers_transaction_leaves_it_usable(
    allocation: Allocation,
) -> None:
    """Inside a caller's transaction a movement takes no savepoint; a refusal must still leave
    that transaction usable (it is raised before anything is written) and write nothing."""
    with transaction.atomic():
        move(ledger_hold, allocation, 60, "hold-first")
        with pytest.raises(Conflict) as refused:
            move(ledger_hold, allocation, 50, "hold-too-much")
        assert refused.value.code == "insufficient_gpu_hours"
        move(ledger_hold, allocation, 40, "hold-rest")
    assert balance(allocation) == Balance(granted=H(100), held=H(100), charged=H(0))
    keys = set(LedgerEntry.objects.values_list("idempotency_key", flat=True))
    assert keys == {"grant-1", "hold-first", "hold-rest"}


def test_a_movement_at_a_given_cluster_time_is_stamped_with_it(allocation: Allocation) -> None:
    at = datetime.combine(allocation.starts_on, datetime.min.time(), tzinfo=UTC).replace(hour=12)
    assert at.date() != datetime.now(UTC).date()
    entry = move(ledger_hold, allocation, 5, "hold-at", at=at).entry
    entry.refresh_from_db()
    assert entry.created_at == at
