"""Races on PostgreSQL, with real threads: the rules hold when two requests arrive at once."""

import contextlib
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from django.db import connection

from accounts.models import JoinRequest, Membership, MembershipRole, Organisation, User
from accounts.services import memberships
from accounts.services.memberships import join_request_create, membership_set_role
from accounts.services.verification import organisation_verify
from stargate_portal.errors import Conflict
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 10


def run_together(*calls: Callable[[], Any]) -> list[Any]:
    """Start the calls at the same moment in threads; return each result or exception."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[index] = call()
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def conflicts(results: list[Any]) -> list[str]:
    unexpected = [r for r in results if isinstance(r, Exception) and not isinstance(r, Conflict)]
    assert not unexpected, unexpected
    return [r.code for r in results if isinstance(r, Conflict)]


def test_two_owners_stepping_down_at_once_leave_one_owner(
    alice: User, alice_org: Organisation, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Hold each step-down just after its "another owner remains" check, up to a second, so
    # that without a lock both checks pass before either commits.
    both_checked = threading.Barrier(2, timeout=1)
    keep_an_owner = memberships._keep_an_owner

    def keep_an_owner_then_wait(membership: Membership) -> None:
        keep_an_owner(membership)
        with contextlib.suppress(threading.BrokenBarrierError):
            both_checked.wait()

    monkeypatch.setattr(memberships, "_keep_an_owner", keep_an_owner_then_wait)
    first = Membership.objects.get(user=alice, organisation=alice_org)
    second = MembershipFactory.create(organisation=alice_org, role=MembershipRole.OWNER)

    results = run_together(
        partial(membership_set_role, membership=first, actor=alice, role="member"),
        partial(membership_set_role, membership=second, actor=second.user, role="member"),
    )

    assert conflicts(results) == ["last_owner"]
    assert alice_org.memberships.filter(role=MembershipRole.OWNER).count() == 1


def test_two_organisations_sharing_a_domain_cannot_both_be_verified_at_once(
    staff: User,
) -> None:
    for n in range(ROUNDS):
        domain = f"shared{n}.no"
        first = OrganisationFactory.create(pending=True, domains=[domain])
        second = OrganisationFactory.create(pending=True, domains=[domain])

        results = run_together(
            partial(organisation_verify, organisation=first, staff=staff, reason="ok"),
            partial(organisation_verify, organisation=second, staff=staff, reason="ok"),
        )

        assert conflicts(results) == ["domain_claimed"]
        verified = Organisation.objects.filter(
            pk__in=[first.pk, second.pk], verification_state="verified"
        )
        assert verified.count() == 1


def test_two_join_requests_sent_at_once_make_one_pending_request(alice_org: Organisation) -> None:
    for _ in range(ROUNDS):
        requester = UserFactory.create()

        results = run_together(
            partial(join_request_create, user=requester, organisation=alice_org),
            partial(join_request_create, user=requester, organisation=alice_org),
        )

        assert conflicts(results) == ["join_request_pending"]
        assert JoinRequest.objects.filter(user=requester, state="pending").count() == 1
