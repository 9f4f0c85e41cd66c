"""Services of organisations, verification and memberships: every write and every refusal."""

from datetime import date, timedelta
from typing import Any

import pytest
from allauth.account.models import EmailAddress, EmailConfirmationHMAC
from allauth.account.signals import email_confirmed
from django.contrib.auth import authenticate
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.db import SessionStore
from django.db import IntegrityError, transaction
from django.test import RequestFactory
from django.utils import timezone

from accounts.models import (
    JoinRequest,
    JoinRequestState,
    Membership,
    MembershipRole,
    Organisation,
    OrganisationDomain,
    User,
    VerificationDecision,
    VerificationState,
)
from accounts.services.memberships import (
    join_request_create,
    join_request_decide,
    membership_remove,
    membership_set_role,
)
from accounts.services.organisations import organisation_create, organisation_update
from accounts.services.verification import organisation_reject, organisation_verify
from stargate_portal.errors import Conflict, PermissionDenied, ValidationFailed
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory

VALID_ORGANISATION: dict[str, Any] = {
    "name": "NTNU",
    "kind": "university",
    "country": "NO",
    "registration_number": "974 767 880",
    "website": "https://www.ntnu.no",
    "founded_on": date(1910, 1, 1),
    "email_domains": ["ntnu.no"],
}


def row_counts() -> tuple[int, int, int, int]:
    return (
        Organisation.objects.count(),
        Membership.objects.count(),
        OrganisationDomain.objects.count(),
        VerificationDecision.objects.count(),
    )


def create(user: User, **overrides: Any) -> Organisation:
    return organisation_create(user=user, **(VALID_ORGANISATION | overrides))


# Creating organisations ---------------------------------------------------------------------


def test_creating_an_organisation_makes_the_creator_its_owner_and_records_its_domains(
    alice: User,
) -> None:
    organisation = create(alice, country="no", email_domains=[" @NTNU.no", "stud.ntnu.no", ""])

    assert organisation.name == "NTNU"
    assert organisation.country == "NO"
    assert organisation.registration_number == "974767880"
    assert organisation.verification_state == VerificationState.PENDING
    assert organisation.priority_tier() == 4
    assert list(organisation.memberships.values_list("user__email", "role")) == [
        ("alice@uio.no", MembershipRole.OWNER)
    ]
    assert sorted(organisation.domains.values_list("domain", flat=True)) == [
        "ntnu.no",
        "stud.ntnu.no",
    ]


def test_the_same_name_may_exist_in_another_country(alice: User) -> None:
    organisation = create(
        alice,
        name="University of Oslo",
        country="SE",
        registration_number="",
        email_domains=[],
    )

    assert organisation.country == "SE"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"registration_number": "974767881"}, "registration_number"),
        ({"country": "DE", "registration_number": "974767880"}, "registration_number"),
        ({"country": "XX", "registration_number": ""}, "country"),
        ({"country": "", "registration_number": ""}, "country"),
        # Two days ahead: the parameters are computed when the tests are collected, and a run
        # that crosses midnight made "tomorrow" today (three CI failures at 00:00 UTC).
        ({"founded_on": timezone.localdate() + timedelta(days=2)}, "founded_on"),
        ({"kind": "startup", "founded_on": None}, "founded_on"),
        ({"kind": "spaceship"}, "kind"),
        ({"name": "   "}, "name"),
        ({"name": "university of OSLO"}, "name"),
        ({"website": "not a url"}, "website"),
        ({"email_domains": ["uio.no"]}, "email_domains"),
        ({"email_domains": ["UIO.NO"]}, "email_domains"),
        ({"email_domains": ["not a domain"]}, "email_domains"),
    ],
    ids=[
        "bad check digit",
        "number of another country",
        "unknown country",
        "no country",
        "founded in the future",
        "startup without founding date",
        "unknown kind",
        "blank name",
        "name taken in country, any case",
        "bad website",
        "domain claimed by a verified organisation",
        "claimed domain in capitals",
        "malformed domain",
    ],
)
def test_creating_an_invalid_organisation_names_the_field_and_saves_nothing(
    alice: User, overrides: dict[str, Any], field: str
) -> None:
    before = row_counts()

    with pytest.raises(ValidationFailed) as refused:
        create(alice, **overrides)

    assert refused.value.code == "invalid"
    assert field in refused.value.details
    assert refused.value.details[field][0]
    assert row_counts() == before


def test_all_field_errors_are_reported_at_once(alice: User) -> None:
    with pytest.raises(ValidationFailed) as refused:
        create(
            alice,
            name="University of Oslo",
            registration_number="1",
            founded_on=timezone.localdate() + timedelta(days=3),
        )

    assert set(refused.value.details) == {"name", "registration_number", "founded_on"}


# Editing organisations ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "changed"),
    [
        ({"country": "SE", "registration_number": ""}, "country"),
        ({"kind": "research_institute"}, "kind"),
        ({"founded_on": date(1812, 1, 1)}, "founded_on"),
    ],
)
def test_changing_a_tier_fact_of_a_verified_organisation_sends_it_back_to_verification(
    alice: User, alice_org: Organisation, changes: dict[str, Any], changed: str
) -> None:
    updated = organisation_update(organisation=alice_org, actor=alice, **changes)

    assert updated.verification_state == VerificationState.PENDING
    assert updated.verification_decided_at is None
    assert updated.verification_reason == ""
    assert updated.priority_tier() == 4
    decision = VerificationDecision.objects.get(organisation=alice_org)
    assert decision.decision == VerificationDecision.Decision.REOPENED
    assert decision.decided_by == alice
    assert changed in decision.reason


def test_editing_the_website_alone_keeps_the_organisation_verified(
    alice: User, alice_org: Organisation
) -> None:
    updated = organisation_update(
        organisation=alice_org,
        actor=alice,
        website="https://www.uio.no",
        founded_on=date(1811, 9, 2),
    )

    assert updated.website == "https://www.uio.no"
    assert updated.verification_state == VerificationState.VERIFIED
    assert not VerificationDecision.objects.exists()


def test_editing_a_pending_organisation_records_no_reopening(alice: User) -> None:
    pending = create(alice)

    organisation_update(organisation=pending, actor=alice, country="SE", registration_number="")

    assert not VerificationDecision.objects.exists()


def test_renaming_to_a_name_taken_in_the_country_is_refused(
    bob: User, bob_org: Organisation, alice_org: Organisation
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        organisation_update(organisation=bob_org, actor=bob, name="UNIVERSITY OF OSLO")

    assert "name" in refused.value.details
    bob_org.refresh_from_db()
    assert bob_org.name == "Fjord AI AS"


def test_moving_to_a_country_where_the_name_is_taken_is_refused_without_saving(
    alice: User, alice_org: Organisation
) -> None:
    OrganisationFactory.create(name="University of Oslo", country="SE")

    with pytest.raises(ValidationFailed) as refused:
        organisation_update(
            organisation=alice_org, actor=alice, country="SE", registration_number=""
        )

    assert "country" in refused.value.details
    alice_org.refresh_from_db()
    assert alice_org.country == "NO"
    assert alice_org.verification_state == VerificationState.VERIFIED
    assert not VerificationDecision.objects.exists()


def test_an_invalid_edit_changes_nothing(alice: User, alice_org: Organisation) -> None:
    before = row_counts()

    with pytest.raises(ValidationFailed):
        organisation_update(
            organisation=alice_org,
            actor=alice,
            website="https://uio.no",
            founded_on=timezone.localdate() + timedelta(days=1),
        )

    alice_org.refresh_from_db()
    assert alice_org.website == ""
    assert row_counts() == before


def test_editing_the_domains_replaces_them(alice: User, alice_org: Organisation) -> None:
    organisation_update(organisation=alice_org, actor=alice, email_domains=["UIO.no", "ifi.uio.no"])

    assert sorted(alice_org.domains.values_list("domain", flat=True)) == ["ifi.uio.no", "uio.no"]


def test_adding_a_domain_to_a_verified_organisation_sends_it_back_to_verification(
    bob: User, bob_org: Organisation
) -> None:
    # Auto-join trusts verified domains: a new domain needs a staff decision first.
    updated = organisation_update(
        organisation=bob_org, actor=bob, email_domains=["fjordai.no", "ntnu.no"]
    )

    assert updated.verification_state == VerificationState.PENDING
    assert "email_domains" in VerificationDecision.objects.get(organisation=bob_org).reason


def test_removing_a_domain_keeps_the_organisation_verified(
    alice: User, alice_org: Organisation
) -> None:
    updated = organisation_update(organisation=alice_org, actor=alice, email_domains=[])

    assert updated.verification_state == VerificationState.VERIFIED
    assert not alice_org.domains.exists()


# Verification -------------------------------------------------------------------------------


def test_staff_verify_an_organisation_with_a_reason_and_the_evidence_is_kept(
    alice: User, staff: User
) -> None:
    organisation = create(alice)

    verified = organisation_verify(organisation=organisation, staff=staff, reason=" Registry ok ")

    assert verified.verification_state == VerificationState.VERIFIED
    assert verified.verification_reason == "Registry ok"
    assert verified.verification_decided_by == staff
    assert verified.verification_decided_at is not None
    assert verified.priority_tier() == 1
    decision = VerificationDecision.objects.get(organisation=organisation)
    assert decision.decision == "verified"
    assert decision.decided_by == staff
    assert decision.evidence["registration_valid"] is True
    assert decision.evidence["country_in_region"] is True
    assert decision.evidence["email_domains"] == ["ntnu.no"]
    assert decision.evidence["tier_if_verified"] == 1


def test_staff_reject_an_organisation_with_a_reason(alice: User, staff: User) -> None:
    organisation = create(alice)

    rejected = organisation_reject(organisation=organisation, staff=staff, reason="Not a company")

    assert rejected.verification_state == VerificationState.REJECTED
    assert rejected.verification_reason == "Not a company"
    assert rejected.priority_tier() == 4
    assert VerificationDecision.objects.get(organisation=organisation).decision == "rejected"


def test_only_staff_decide_on_verification(alice: User) -> None:
    organisation = create(alice)

    with pytest.raises(PermissionDenied):
        organisation_verify(organisation=organisation, staff=alice, reason="I vouch for it")

    organisation.refresh_from_db()
    assert organisation.verification_state == VerificationState.PENDING
    assert not VerificationDecision.objects.exists()


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_decision_without_a_reason_is_refused(alice: User, staff: User, reason: str) -> None:
    organisation = create(alice)

    with pytest.raises(ValidationFailed) as refused:
        organisation_reject(organisation=organisation, staff=staff, reason=reason)

    assert "reason" in refused.value.details
    assert not VerificationDecision.objects.exists()


def test_verifying_twice_is_a_conflict(alice_org: Organisation, staff: User) -> None:
    with pytest.raises(Conflict) as refused:
        organisation_verify(organisation=alice_org, staff=staff, reason="Again")

    assert refused.value.code == "already_decided"
    assert not VerificationDecision.objects.exists()


def test_a_rejected_organisation_can_be_verified_later(alice: User, staff: User) -> None:
    organisation = create(alice)
    organisation_reject(organisation=organisation, staff=staff, reason="Registry down")

    organisation_verify(organisation=organisation, staff=staff, reason="Registry ok now")

    assert list(
        VerificationDecision.objects.filter(organisation=organisation).values_list(
            "decision", flat=True
        )
    ) == ["verified", "rejected"]


def test_verifying_is_refused_while_another_verified_organisation_claims_a_domain(
    alice: User, bob: User, staff: User
) -> None:
    first = create(alice, email_domains=["shared.no"])
    second = create(
        bob, name="Shared AS", kind="company", registration_number="", email_domains=["shared.no"]
    )
    organisation_verify(organisation=first, staff=staff, reason="First")

    with pytest.raises(Conflict) as refused:
        organisation_verify(organisation=second, staff=staff, reason="Second")

    assert refused.value.code == "domain_claimed"
    assert refused.value.details == {"email_domains": ["shared.no"]}
    second.refresh_from_db()
    assert second.verification_state == VerificationState.PENDING


# Joining by e-mail domain -------------------------------------------------------------------


def test_verification_adds_users_with_a_confirmed_email_on_its_domains(
    alice: User, staff: User
) -> None:
    confirmed = UserFactory.create(email="kari@ntnu.no")
    unconfirmed = UserFactory.create(email="ola@ntnu.no", confirmed=False)
    lookalike = UserFactory.create(email="eve@fakentnu.no")
    subdomain = UserFactory.create(email="per@stud.ntnu.no")
    organisation = create(alice)

    organisation_verify(organisation=organisation, staff=staff, reason="Registry ok")

    members = dict(organisation.memberships.values_list("user__email", "role"))
    assert members == {"alice@uio.no": "owner", "kari@ntnu.no": "member"}
    assert not {unconfirmed.email, lookalike.email, subdomain.email} & set(members)
    assert confirmed.memberships.count() == 1


def test_verification_keeps_the_role_of_existing_members(alice: User, staff: User) -> None:
    alice_at_ntnu = EmailAddress.objects.create(user=alice, email="alice@ntnu.no", verified=True)
    organisation = create(alice)

    organisation_verify(organisation=organisation, staff=staff, reason="Registry ok")

    assert alice_at_ntnu.verified
    assert organisation.memberships.get(user=alice).role == MembershipRole.OWNER


def test_confirming_an_email_joins_the_verified_organisation_of_its_domain(
    alice_org: Organisation, bob_org: Organisation
) -> None:
    kari = UserFactory.create(email="kari@uio.no", confirmed=False)
    address = EmailAddress.objects.create(user=kari, email=kari.email, primary=True, verified=True)

    email_confirmed.send(sender=EmailAddress, request=None, email_address=address)

    assert list(kari.memberships.values_list("organisation__name", "role")) == [
        ("University of Oslo", "member")
    ]


def test_confirming_a_secondary_email_joins_the_organisation_of_that_address(
    alice_org: Organisation,
) -> None:
    kari = UserFactory.create(email="kari@gmail.example")  # primary address, confirmed
    address = EmailAddress.objects.create(user=kari, email="kari@uio.no", verified=False)
    request = RequestFactory().get("/")
    request.session = SessionStore()
    request.user = kari
    request._messages = FallbackStorage(request)  # type: ignore[attr-defined]

    EmailConfirmationHMAC(address).confirm(request)

    address.refresh_from_db()
    assert address.verified
    assert kari.memberships.get().organisation == alice_org


def test_confirming_an_email_does_not_join_a_pending_organisation(alice: User) -> None:
    create(alice)  # pending, claims ntnu.no
    kari = UserFactory.create(email="kari@ntnu.no", confirmed=False)
    address = EmailAddress.objects.create(user=kari, email=kari.email, primary=True, verified=True)

    email_confirmed.send(sender=EmailAddress, request=None, email_address=address)

    assert not kari.memberships.exists()


def test_confirming_twice_does_not_duplicate_or_change_membership(
    alice: User, alice_org: Organisation
) -> None:
    address = EmailAddress.objects.get(user=alice)

    email_confirmed.send(sender=EmailAddress, request=None, email_address=address)
    email_confirmed.send(sender=EmailAddress, request=None, email_address=address)

    assert list(alice.memberships.values_list("role", flat=True)) == ["owner"]


# Join requests ------------------------------------------------------------------------------


def test_a_join_request_waits_for_the_organisation_admins(
    bob: User, alice_org: Organisation
) -> None:
    join_request = join_request_create(user=bob, organisation=alice_org, message="Hi!")

    assert join_request.state == JoinRequestState.PENDING
    assert join_request.message == "Hi!"
    assert not Membership.objects.filter(user=bob, organisation=alice_org).exists()


def test_a_second_pending_join_request_is_a_conflict(bob: User, alice_org: Organisation) -> None:
    join_request_create(user=bob, organisation=alice_org)

    with pytest.raises(Conflict) as refused:
        join_request_create(user=bob, organisation=alice_org, message="Again")

    assert refused.value.code == "join_request_pending"
    assert JoinRequest.objects.count() == 1


def test_a_member_cannot_ask_to_join_again(alice: User, alice_org: Organisation) -> None:
    with pytest.raises(Conflict) as refused:
        join_request_create(user=alice, organisation=alice_org)

    assert refused.value.code == "already_member"
    assert not JoinRequest.objects.exists()


def test_approving_a_join_request_makes_the_requester_a_member(
    alice: User, bob: User, alice_org: Organisation
) -> None:
    join_request = join_request_create(user=bob, organisation=alice_org)

    decided = join_request_decide(join_request=join_request, actor=alice, approve=True)

    assert decided.state == JoinRequestState.APPROVED
    assert decided.decided_by == alice
    assert decided.decided_at is not None
    assert Membership.objects.get(user=bob, organisation=alice_org).role == MembershipRole.MEMBER


def test_denying_a_join_request_adds_no_member_and_allows_a_new_request(
    alice: User, bob: User, alice_org: Organisation
) -> None:
    join_request = join_request_create(user=bob, organisation=alice_org)

    decided = join_request_decide(join_request=join_request, actor=alice, approve=False)

    assert decided.state == JoinRequestState.DENIED
    assert not Membership.objects.filter(user=bob, organisation=alice_org).exists()
    assert join_request_create(user=bob, organisation=alice_org).state == JoinRequestState.PENDING


def test_a_decided_join_request_cannot_be_decided_again(
    alice: User, bob: User, alice_org: Organisation
) -> None:
    join_request = join_request_create(user=bob, organisation=alice_org)
    join_request_decide(join_request=join_request, actor=alice, approve=False)

    with pytest.raises(Conflict) as refused:
        join_request_decide(join_request=join_request, actor=alice, approve=True)

    assert refused.value.code == "already_decided"
    assert not Membership.objects.filter(user=bob, organisation=alice_org).exists()


def test_a_plain_member_cannot_decide_a_join_request(bob: User, alice_org: Organisation) -> None:
    member = MembershipFactory.create(organisation=alice_org, role=MembershipRole.MEMBER).user
    join_request = join_request_create(user=bob, organisation=alice_org)

    with pytest.raises(PermissionDenied):
        join_request_decide(join_request=join_request, actor=member, approve=True)

    join_request.refresh_from_db()
    assert join_request.state == JoinRequestState.PENDING


# Roles and leaving --------------------------------------------------------------------------


def test_the_last_owner_cannot_be_removed(alice: User, alice_org: Organisation) -> None:
    membership = Membership.objects.get(user=alice, organisation=alice_org)

    with pytest.raises(Conflict) as refused:
        membership_remove(membership=membership, actor=alice)

    assert refused.value.code == "last_owner"
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_the_last_owner_cannot_be_demoted(alice: User, alice_org: Organisation) -> None:
    membership = Membership.objects.get(user=alice, organisation=alice_org)

    with pytest.raises(Conflict) as refused:
        membership_set_role(membership=membership, actor=alice, role=MembershipRole.ADMIN)

    assert refused.value.code == "last_owner"
    membership.refresh_from_db()
    assert membership.role == MembershipRole.OWNER


def test_an_owner_may_step_down_once_there_is_another_owner(
    alice: User, alice_org: Organisation
) -> None:
    other = MembershipFactory.create(organisation=alice_org, role=MembershipRole.MEMBER)
    membership_set_role(membership=other, actor=alice, role=MembershipRole.OWNER)
    own = Membership.objects.get(user=alice, organisation=alice_org)

    assert membership_set_role(membership=own, actor=alice, role="member").role == "member"
    membership_remove(membership=own, actor=alice)

    assert list(alice_org.memberships.values_list("role", flat=True)) == ["owner"]


def test_a_member_may_leave_but_not_remove_others(alice: User, alice_org: Organisation) -> None:
    leaving = MembershipFactory.create(organisation=alice_org, role=MembershipRole.MEMBER)
    other = MembershipFactory.create(organisation=alice_org, role=MembershipRole.MEMBER)

    with pytest.raises(PermissionDenied):
        membership_remove(membership=other, actor=leaving.user)
    membership_remove(membership=leaving, actor=leaving.user)

    assert set(alice_org.memberships.values_list("user", flat=True)) == {alice.pk, other.user_id}


def test_a_plain_member_cannot_change_roles(alice: User, alice_org: Organisation) -> None:
    member = MembershipFactory.create(organisation=alice_org, role=MembershipRole.MEMBER)

    with pytest.raises(PermissionDenied):
        membership_set_role(membership=member, actor=member.user, role=MembershipRole.OWNER)

    member.refresh_from_db()
    assert member.role == MembershipRole.MEMBER


def test_an_admin_manages_members_but_cannot_make_or_unmake_owners(
    alice: User, alice_org: Organisation
) -> None:
    admin = MembershipFactory.create(organisation=alice_org, role=MembershipRole.ADMIN).user
    member = MembershipFactory.create(organisation=alice_org, role=MembershipRole.MEMBER)
    owner = Membership.objects.get(user=alice, organisation=alice_org)
    own = Membership.objects.get(user=admin)

    assert membership_set_role(membership=member, actor=admin, role="admin").role == "admin"
    with pytest.raises(PermissionDenied):
        membership_set_role(membership=own, actor=admin, role=MembershipRole.OWNER)
    with pytest.raises(PermissionDenied):
        membership_set_role(membership=owner, actor=admin, role=MembershipRole.MEMBER)
    with pytest.raises(PermissionDenied):
        membership_remove(membership=owner, actor=admin)

    assert dict(alice_org.memberships.values_list("user__email", "role"))[alice.email] == "owner"
    assert Membership.objects.get(user=admin).role == MembershipRole.ADMIN


def test_an_admin_removes_a_plain_member(alice_org: Organisation) -> None:
    admin = MembershipFactory.create(organisation=alice_org, role=MembershipRole.ADMIN).user
    member = MembershipFactory.create(organisation=alice_org, role=MembershipRole.MEMBER)

    membership_remove(membership=member, actor=admin)

    assert not Membership.objects.filter(pk=member.pk).exists()


def test_an_unknown_role_is_refused(alice: User, alice_org: Organisation) -> None:
    member = MembershipFactory.create(organisation=alice_org, role=MembershipRole.MEMBER)

    with pytest.raises(ValidationFailed) as refused:
        membership_set_role(membership=member, actor=alice, role="emperor")

    assert "role" in refused.value.details
    member.refresh_from_db()
    assert member.role == MembershipRole.MEMBER


# Users --------------------------------------------------------------------------------------


def test_an_email_differing_only_in_case_is_the_same_user(alice: User) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user("Alice@UIO.no", "another password")


def test_the_database_refuses_an_email_differing_only_in_case(alice: User) -> None:
    # bulk_create skips User.save (which lower-cases): the constraint itself must refuse it.
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.bulk_create([User(email="Alice@UIO.no", date_joined=timezone.now())])


def test_emails_are_stored_in_lower_case(db: None) -> None:
    assert User.objects.create_user(" Kari@NTNU.no ", "pw").email == "kari@ntnu.no"


def test_login_finds_the_user_whatever_the_case_of_the_email(alice: User) -> None:
    assert User.objects.get_by_natural_key("ALICE@uio.no") == alice
    assert (
        authenticate(None, username="ALICE@UIO.NO", password="correct horse battery staple")
        == alice
    )
