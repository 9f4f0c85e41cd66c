"""Property: any sequence of ledger operations keeps available ≥ 0 and balances = Σ entries."""

import contextlib
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from booking.ledger import services as ledger
from booking.ledger.selectors import balance_of
from booking.models import LedgerEntry
from stargate_portal.errors import Conflict
from tests.factories import AllocationFactory

OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["grant", "hold", "release", "charge", "refund", "adjust"]),
        st.decimals(min_value=Decimal("-50"), max_value=Decimal("80"), places=2),
        st.integers(min_value=0, max_value=6),  # small key space: replays happen
    ),
    max_size=25,
)
SERVICES = {
    "grant": ledger.ledger_grant,
    "hold": ledger.ledger_hold,
    "release": ledger.ledger_release,
    "charge": ledger.ledger_charge,
    "refund": ledger.ledger_refund,
    "adjust": ledger.ledger_adjust,
}


@pytest.mark.django_db
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations=OPERATIONS)
def test_any_sequence_keeps_available_non_negative_and_balance_equal_to_entries(
    operations: list[tuple[str, Decimal, int]],
) -> None:
    allocation = AllocationFactory()
    target = {"project": allocation.project, "gpu_type": allocation.gpu_type}
    for kind, amount, key in operations:
        if kind != "adjust":
            amount = abs(amount)
        extra = {"actor": None, "reason": "property test"} if kind == "adjust" else {}
        # A refusal must leave the ledger unchanged: the sums below check it.
        with contextlib.suppress(Conflict, ledger.ValidationFailed):
            SERVICES[kind](**target, gpu_hours=amount, key=f"{allocation.pk}-{kind}-{key}", **extra)
        balance = balance_of(**target)
        assert balance.available >= 0
        assert balance.held >= 0
        assert balance.charged >= 0
    entries = LedgerEntry.objects.filter(project=allocation.project)
    by_kind: dict[str, Decimal] = {}
    for entry in entries:
        by_kind[entry.kind] = by_kind.get(entry.kind, Decimal(0)) + entry.gpu_hours
    final = balance_of(**target)
    assert final.granted == by_kind.get("grant", 0) + by_kind.get("adjustment", 0)
    assert final.held == by_kind.get("hold", 0) + by_kind.get("release", 0)
    assert final.charged == by_kind.get("charge", 0) + by_kind.get("refund", 0)
