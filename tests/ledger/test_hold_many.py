"""The admission cycle's batch of holds follows the rules of a single hold: replays, key
conflicts, the available balance in request order, suspended projects, missing allocations."""

from datetime import date
from decimal import Decimal

import pytest

from booking.ledger.selectors import balance_of
from booking.ledger.services import (
    HoldRequest,
    ledger_charge,
    ledger_grant,
    ledger_hold,
    ledger_hold_many,
)
from booking.models import Allocation, GpuType, LedgerEntry, Project, ProjectState
from tests.factories import AllocationFactory, GpuTypeFactory

pytestmark = pytest.mark.django_db
H = Decimal


@pytest.fixture
def allocation() -> Allocation:
    """100 H100 GPU-hours granted."""
    allocation = AllocationFactory.create()
    ledger_grant(
        project=allocation.project, gpu_type=allocation.gpu_type, gpu_hours=H(100), key="grant"
    )
    return allocation


def request(
    ref: int, allocation: Allocation, hours: str, key: str, *, gpu_type: GpuType | None = None
) -> HoldRequest:
    """A hold of ``hours`` on ``allocation`` (or on its project's ``gpu_type``)."""
    return HoldRequest(
        ref=ref,
        project_id=allocation.project_id,
        gpu_type_id=(gpu_type or allocation.gpu_type).pk,
        gpu_hours=H(hours),
        key=key,
    )


def held(allocation: Allocation) -> Decimal:
    return balance_of(project=allocation.project, gpu_type=allocation.gpu_type).held


def test_each_request_is_held_on_the_ledger(allocation: Allocation) -> None:
    refused = ledger_hold_many(
        [request(1, allocation, "12.5", "job-1-hold"), request(2, allocation, "7.5", "job-2-hold")]
    )

    assert refused == {}
    entries = LedgerEntry.objects.filter(kind="hold").order_by("idempotency_key")
    assert [(e.idempotency_key, e.gpu_hours) for e in entries] == [
        ("job-1-hold", H("12.5000")),
        ("job-2-hold", H("7.5000")),
    ]
    assert held(allocation) == H(20)


def test_a_key_already_held_for_the_same_hold_is_a_replay(allocation: Allocation) -> None:
    first = ledger_hold(
        project=allocation.project, gpu_type=allocation.gpu_type, gpu_hours=H(10), key="job-1-hold"
    )

    refused = ledger_hold_many([request(1, allocation, "10", "job-1-hold")])

    assert refused == {}
    assert list(LedgerEntry.objects.filter(kind="hold")) == [first.entry]
    assert held(allocation) == H(10)


def test_a_replay_is_not_refused_even_when_the_balance_could_not_take_it_again(
    allocation: Allocation,
) -> None:
    ledger_hold(
        project=allocation.project, gpu_type=allocation.gpu_type, gpu_hours=H(90), key="job-1-hold"
    )

    assert ledger_hold_many([request(1, allocation, "90", "job-1-hold")]) == {}
    assert held(allocation) == H(90)


def test_the_same_key_twice_in_one_batch_holds_once(allocation: Allocation) -> None:
    refused = ledger_hold_many(
        [request(1, allocation, "10", "job-1-hold"), request(2, allocation, "10", "job-1-hold")]
    )

    assert refused == {}
    assert LedgerEntry.objects.filter(idempotency_key="job-1-hold").count() == 1
    assert held(allocation) == H(10)


def test_the_same_key_twice_in_one_batch_for_other_hours_is_a_conflict(
    allocation: Allocation,
) -> None:
    refused = ledger_hold_many(
        [request(1, allocation, "10", "job-1-hold"), request(2, allocation, "11", "job-1-hold")]
    )

    assert refused == {2: "ledger_key_conflict"}
    assert held(allocation) == H(10)


@pytest.fixture
def other_project(allocation: Allocation) -> Allocation:
    """Another project with 100 GPU-hours of the same GPU type."""
    other = AllocationFactory.create(gpu_type=allocation.gpu_type)
    ledger_grant(project=other.project, gpu_type=other.gpu_type, gpu_hours=H(100), key="grant-2")
    return other


@pytest.fixture
def other_gpu_type(allocation: Allocation) -> Allocation:
    """The same project's 100 GPU-hours of H200."""
    h200 = GpuTypeFactory.create(name="H200", memory_gb=141)
    other = AllocationFactory.create(project=allocation.project, gpu_type=h200)
    ledger_grant(project=other.project, gpu_type=h200, gpu_hours=H(100), key="grant-h200")
    return other


def test_the_same_key_for_other_hours_is_a_conflict(allocation: Allocation) -> None:
    ledger_hold(
        project=allocation.project, gpu_type=allocation.gpu_type, gpu_hours=H(10), key="job-1-hold"
    )

    refused = ledger_hold_many([request(1, allocation, "10.0001", "job-1-hold")])

    assert refused == {1: "ledger_key_conflict"}
    assert held(allocation) == H(10)


def test_the_same_key_and_hours_for_another_project_is_a_conflict(
    allocation: Allocation, other_project: Allocation
) -> None:
    ledger_hold(
        project=allocation.project, gpu_type=allocation.gpu_type, gpu_hours=H(10), key="job-1-hold"
    )

    refused = ledger_hold_many([request(1, other_project, "10", "job-1-hold")])

    assert refused == {1: "ledger_key_conflict"}
    assert held(other_project) == 0
    assert held(allocation) == H(10)


def test_the_same_key_and_hours_for_another_gpu_type_is_a_conflict(
    allocation: Allocation, other_gpu_type: Allocation
) -> None:
    ledger_hold(
        project=allocation.project, gpu_type=allocation.gpu_type, gpu_hours=H(10), key="job-1-hold"
    )

    refused = ledger_hold_many([request(1, other_gpu_type, "10", "job-1-hold")])

    assert refused == {1: "ledger_key_conflict"}
    assert held(other_gpu_type) == 0


def test_the_same_key_and_hours_of_another_kind_of_movement_is_a_conflict(
    allocation: Allocation,
) -> None:
    ledger_charge(
        project=allocation.project, gpu_type=allocation.gpu_type, gpu_hours=H(10), key="job-1-x"
    )

    refused = ledger_hold_many([request(1, allocation, "10", "job-1-x")])

    assert refused == {1: "ledger_key_conflict"}
    assert held(allocation) == 0


def test_holds_beyond_the_available_balance_are_refused_in_request_order(
    allocation: Allocation,
) -> None:
    refused = ledger_hold_many(
        [
            request(1, allocation, "60", "job-1-hold"),
            request(2, allocation, "50", "job-2-hold"),  # 40 left: refused
            request(3, allocation, "40", "job-3-hold"),  # exactly the 40 left
            request(4, allocation, "0.0001", "job-4-hold"),  # nothing left
        ]
    )

    assert refused == {2: "insufficient_gpu_hours", 4: "insufficient_gpu_hours"}
    keys = set(LedgerEntry.objects.filter(kind="hold").values_list("idempotency_key", flat=True))
    assert keys == {"job-1-hold", "job-3-hold"}
    assert held(allocation) == H(100)


def test_the_earlier_request_is_served_first_whichever_it_is(allocation: Allocation) -> None:
    refused = ledger_hold_many(
        [request(2, allocation, "50", "job-2-hold"), request(1, allocation, "60", "job-1-hold")]
    )

    assert refused == {1: "insufficient_gpu_hours"}
    assert held(allocation) == H(50)


def test_each_allocation_has_its_own_balance_in_one_batch(
    allocation: Allocation, other_project: Allocation
) -> None:
    refused = ledger_hold_many(
        [
            request(1, allocation, "80", "job-1-hold"),
            request(2, other_project, "80", "job-2-hold"),
            request(3, allocation, "30", "job-3-hold"),
        ]
    )

    assert refused == {3: "insufficient_gpu_hours"}
    assert (held(allocation), held(other_project)) == (H(80), H(80))


def test_a_suspended_project_cannot_hold_and_the_others_still_do(
    allocation: Allocation, other_project: Allocation
) -> None:
    Project.objects.filter(pk=allocation.project_id).update(state=ProjectState.SUSPENDED)

    refused = ledger_hold_many(
        [request(1, allocation, "10", "job-1-hold"), request(2, other_project, "10", "job-2-hold")]
    )

    assert refused == {1: "project_suspended"}
    assert (held(allocation), held(other_project)) == (0, H(10))


def test_a_gpu_type_without_allocation_cannot_hold(allocation: Allocation) -> None:
    h200 = GpuTypeFactory.create(name="H200", memory_gb=141)

    refused = ledger_hold_many([request(1, allocation, "10", "job-1-hold", gpu_type=h200)])

    assert refused == {1: "no_allocation"}
    assert not LedgerEntry.objects.filter(kind="hold").exists()


def test_an_empty_batch_holds_nothing(allocation: Allocation) -> None:
    assert ledger_hold_many([]) == {}
    assert held(allocation) == 0


def test_an_allocation_outside_its_dates_cannot_hold(allocation: Allocation) -> None:
    Allocation.objects.filter(pk=allocation.pk).update(
        starts_on=date(2020, 1, 1), ends_on=date(2020, 12, 31)
    )

    refused = ledger_hold_many([request(1, allocation, "10", "job-1-hold")])

    assert refused == {1: "allocation_inactive"}
    assert held(allocation) == 0
