"""The demo data loads, gives each persona its tier, and loading it again changes nothing."""

import pytest
from django.core.management import call_command

from accounts.models import Organisation, User
from booking.ledger.selectors import balances_of
from booking.models import LedgerEntry, Project


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_gives_the_personas_their_tiers() -> None:
    call_command("seed_demo", verbosity=0)
    counts = (User.objects.count(), Organisation.objects.count(), LedgerEntry.objects.count())
    call_command("seed_demo", verbosity=0)
    assert (
        User.objects.count(),
        Organisation.objects.count(),
        LedgerEntry.objects.count(),
    ) == counts

    tiers = {o.name: int(o.priority_tier()) for o in Organisation.objects.all()}
    assert tiers == {
        "University of Oslo": 1,
        "Fjord AI AS": 2,
        "Acme Compute Inc": 4,
        "NTNU": 4,
    }
    norllm = Project.objects.get(members__user__email="alice@uio.no")
    assert balances_of(project=norllm)["H100"].available == 40_000
    assert User.objects.get(email="staff@stargate.eu").check_password("stargate-demo-2026")
