"""Ledger checkpoints: a balance reads the allocation's checkpoint and the entries after it,
and is the same as the sum of its whole history, whatever runs at the same time."""

import random
import threading
from decimal import Decimal

import pytest
from django.db import connection

from booking.ledger.checkpoints import ledger_checkpoints_advance
from booking.ledger.selectors import (
    CHECKPOINTED_PAIRS_MAX,
    CHECKPOINTED_PROJECTS_MAX,
    Balance,
    balance_of,
    balances,
    balances_by_allocation,
    balances_by_project,
)
from booking.ledger.services import ledger_charge, ledger_grant, ledger_hold, ledger_release
from booking.models import Allocation, LedgerCheckpoint, LedgerEntry
from stargate_portal.errors import Conflict
from stargate_portal.postgresql.costs import rows_read
from tests.factories import AllocationFactory, GpuTypeFactory

pytestmark = pytest.mark.django_db
H = Decimal


def whole_history(allocation: Allocation) -> Balance:
    """The balance as the sum of every entry (what a checkpoint must never change)."""
    entries = LedgerEntry.objects.filter(project=allocation.project, gpu_type=allocation.gpu_type)
    return balances(entries, "project_id").get((allocation.project_id,), Balance())


def target(allocation: Allocation) -> dict[str, object]:
    return {"project": allocation.project, "gpu_type": allocation.gpu_type}


def folded_allocations(count: int) -> list[Allocation]:
    """``count`` allocations, each granted and holding something, every one checkpointed."""
    allocations = [AllocationFactory() for _ in range(count)]
    for n, allocation in enumerate(allocations):
        ledger_grant(**target(allocation), gpu_hours=H(10 + n), key=f"grant-{n}")
        ledger_hold(**target(allocation), gpu_hours=H(1), key=f"hold-{n}")
    ledger_checkpoints_advance(min_entries=1)
    return allocations


def test_balances_stay_the_sums_of_the_whole_history_as_checkpoints_advance() -> None:
    chooser = random.Random(7)
    allocations = [AllocationFactory() for _ in range(3)]
    for allocation in allocations:
        ledger_grant(**target(allocation), gpu_hours=H(1000), key=f"grant-{allocation.pk}")
    held: dict[int, list[tuple[str, Decimal]]] = {a.pk: [] for a in allocations}
    for step in range(120):
        allocation = chooser.choice(allocations)
        open_holds = held[allocation.pk]
        if open_holds and chooser.random() < 0.5:
            key, amount = open_holds.pop(chooser.randrange(len(open_holds)))
            ledger_release(**target(allocation), gpu_hours=amount, key=f"{key}-release")
            ledger_charge(**target(allocation), gpu_hours=amount / 2, key=f"{key}-charge")
        else:
            amount = H(chooser.randint(1, 20))
            ledger_hold(**target(allocation), gpu_hours=amount, key=f"hold-{step}")
            open_holds.append((f"hold-{step}", amount))
        if step % 17 == 0:
            ledger_checkpoints_advance(min_entries=3)
        for each in allocations:
            assert balance_of(**target(each)) == whole_history(each)

    assert LedgerCheckpoint.objects.count() == 3
    for checkpoint in LedgerCheckpoint.objects.all():
        folded = LedgerEntry.objects.filter(
            project_id=checkpoint.project_id,
            gpu_type_id=checkpoint.gpu_type_id,
            pk__lte=checkpoint.through_entry_id,
        )
        assert checkpoint.entries == folded.count()


def test_a_balance_reads_the_checkpoint_not_the_entries_it_folds() -> None:
    allocation = AllocationFactory()
    ledger_grant(**target(allocation), gpu_hours=H(100), key="grant")
    ledger_hold(**target(allocation), gpu_hours=H(10), key="hold-1")
    assert ledger_checkpoints_advance(min_entries=1) == 1
    ledger_hold(**target(allocation), gpu_hours=H(5), key="hold-2")
    # Make the checkpoint say something its entries do not: only a balance that reads the
    # checkpoint (and not the entries up to it) shows these figures.
    LedgerCheckpoint.objects.filter(project=allocation.project).update(granted=H(700), held=H(1))

    assert balance_of(**target(allocation)) == Balance(granted=H(700), held=H(6), charged=H(0))
    assert whole_history(allocation) == Balance(granted=H(100), held=H(15), charged=H(0))


def test_checkpoints_fold_only_long_enough_histories_and_running_twice_changes_nothing() -> None:
    short, long = AllocationFactory(), AllocationFactory()
    ledger_grant(**target(short), gpu_hours=H(100), key="short-grant")
    ledger_grant(**target(long), gpu_hours=H(100), key="long-grant")
    for n in range(5):
        ledger_hold(**target(long), gpu_hours=H(1), key=f"long-hold-{n}")

    assert ledger_checkpoints_advance(min_entries=4) == 1
    assert ledger_checkpoints_advance(min_entries=4) == 0
    checkpoint = LedgerCheckpoint.objects.get()
    assert (checkpoint.project_id, checkpoint.entries) == (long.project_id, 6)
    assert (checkpoint.granted, checkpoint.held) == (H(100), H(5))
    assert balance_of(**target(short)) == whole_history(short)


def test_a_batch_of_many_allocations_reads_the_same_balances() -> None:
    allocations = folded_allocations(CHECKPOINTED_PAIRS_MAX + 1)
    ledger_hold(**target(allocations[0]), gpu_hours=H(2), key="after")
    pairs = {(a.project_id, a.gpu_type_id) for a in allocations}

    batch = balances_by_allocation(pairs)
    few = balances_by_allocation(set(list(pairs)[:3]))

    for allocation in allocations:
        pair = (allocation.project_id, allocation.gpu_type_id)
        assert batch[pair] == whole_history(allocation)
        if pair in few:
            assert few[pair] == batch[pair]


def test_a_projects_balances_read_the_checkpoints_of_folded_types_and_every_entry_of_others(
    django_assert_num_queries,
) -> None:
    h100 = AllocationFactory()
    h200 = AllocationFactory(project=h100.project, gpu_type=GpuTypeFactory(name="H200"))
    other = AllocationFactory()
    ledger_grant(**target(h100), gpu_hours=H(100), key="h100-grant")
    ledger_hold(**target(h100), gpu_hours=H(10), key="h100-hold")
    ledger_grant(**target(other), gpu_hours=H(50), key="other-grant")
    assert ledger_checkpoints_advance(min_entries=2) == 1  # H100 of the first project only
    ledger_grant(**target(h200), gpu_hours=H(30), key="h200-grant")
    ledger_hold(**target(h200), gpu_hours=H(3), key="h200-hold")
    ledger_hold(**target(h100), gpu_hours=H(5), key="h100-after")
    ledger_hold(**target(other), gpu_hours=H(1), key="other-hold")
    # Only a read of the checkpoint (not of the entries it folds) shows these H100 figures.
    LedgerCheckpoint.objects.filter(project=h100.project).update(granted=H(700), held=H(1))

    with django_assert_num_queries(3):  # allocations, checkpoints, entries after them
        found = balances_by_project([h100.project_id, other.project_id])

    assert found == {
        h100.project_id: {
            "H100": Balance(granted=H(700), held=H(6), charged=H(0)),
            "H200": Balance(granted=H(30), held=H(3), charged=H(0)),
        },
        other.project_id: {"H100": Balance(granted=H(50), held=H(1), charged=H(0))},
    }
    assert balances_by_project([]) == {}


def test_more_projects_than_a_page_read_the_same_balances_as_the_whole_histories() -> None:
    allocations = folded_allocations(CHECKPOINTED_PROJECTS_MAX + 1)
    ledger_charge(**target(allocations[0]), gpu_hours=H(2), key="after")
    ids = [allocation.project_id for allocation in allocations]

    batch = balances_by_project(ids)
    page = balances_by_project(ids[:CHECKPOINTED_PROJECTS_MAX])

    for allocation in allocations:
        assert batch[allocation.project_id] == {"H100": whole_history(allocation)}
        if allocation.project_id in page:
            assert page[allocation.project_id] == batch[allocation.project_id]


@pytest.mark.postgres
def test_a_projects_balance_reads_no_more_rows_as_its_folded_history_grows() -> None:
    allocation = AllocationFactory()
    ledger_grant(**target(allocation), gpu_hours=H(10_000), key="grant")

    def grow(entries: int, prefix: str) -> int:
        for n in range(entries):
            ledger_hold(**target(allocation), gpu_hours=H(1), key=f"{prefix}-{n}")
        ledger_checkpoints_advance(min_entries=1)
        ledger_hold(**target(allocation), gpu_hours=H(1), key=f"{prefix}-last")  # not folded
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE booking_ledgerentry")
        before = rows_read()
        balances_by_project([allocation.project_id])
        return rows_read() - before

    small, large = grow(100, "first"), grow(400, "second")

    assert balances_by_project([allocation.project_id])[allocation.project_id] == {
        "H100": whole_history(allocation)
    }
    assert whole_history(allocation).held == H(502)
    assert large <= small + 5, (small, large)  # the 400 new entries are folded, never read


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_holds_racing_checkpoints_never_lose_or_double_an_entry() -> None:
    allocation = AllocationFactory()
    ledger_grant(**target(allocation), gpu_hours=H(60), key="grant")
    clients, holds_each = 6, 15
    barrier = threading.Barrier(clients + 2)
    stop = threading.Event()
    outcomes: list[str] = []

    def client(n: int) -> None:
        try:
            barrier.wait()
            for k in range(holds_each):
                try:
                    ledger_hold(**target(allocation), gpu_hours=H(1), key=f"hold-{n}-{k}")
                    outcomes.append("held")
                except Conflict as refused:
                    outcomes.append(refused.code)
        finally:
            connection.close()

    def checkpointer() -> None:
        try:
            barrier.wait()
            while not stop.is_set():
                ledger_checkpoints_advance(min_entries=1)
        finally:
            connection.close()

    seen: list[Balance] = []

    def reader() -> None:
        """Reads without the allocation lock, as a submit's budget check does."""
        try:
            barrier.wait()
            while not stop.is_set():
                seen.append(balance_of(**target(allocation)))
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    others = [threading.Thread(target=checkpointer), threading.Thread(target=reader)]
    for thread in [*threads, *others]:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    for thread in others:
        thread.join()

    # Every read in between saw the grant once and never lost or doubled a hold.
    assert seen
    assert all(balance.granted == H(60) for balance in seen)
    held = [balance.held for balance in seen]
    assert held == sorted(held)
    assert held[-1] <= H(60)

    # 90 holds of 1 GPU-hour asked for 60: exactly 60 held, whatever the checkpoints did.
    assert outcomes.count("held") == 60
    assert balance_of(**target(allocation)) == Balance(granted=H(60), held=H(60), charged=H(0))
    assert whole_history(allocation) == balance_of(**target(allocation))
    ledger_checkpoints_advance(min_entries=1)
    checkpoint = LedgerCheckpoint.objects.get()
    assert checkpoint.entries == LedgerEntry.objects.count() == 61
    assert balance_of(**target(allocation)).available == H(0)
