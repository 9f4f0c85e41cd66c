"""Priority tiers follow from an organisation's verified facts (ARCHITECTURE.md, domain rules)."""

from datetime import date, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from pytest_django import Settings

from accounts.models import MembershipRole, Organisation, User, VerificationState
from accounts.selectors import user_tier
from accounts.tiers import PriorityTier, best_tier, is_younger_than
from tests.factories import MembershipFactory, OrganisationFactory

TODAY = date(2025, 6, 15)
SEVEN_YEARS_AGO = TODAY - relativedelta(years=7)

ACADEMIC = PriorityTier.EUROPEAN_ACADEMIC
STARTUP = PriorityTier.EUROPEAN_STARTUP
OTHER = PriorityTier.EUROPEAN_OTHER
INTERNATIONAL = PriorityTier.INTERNATIONAL

VERIFIED = VerificationState.VERIFIED
PENDING = VerificationState.PENDING
REJECTED = VerificationState.REJECTED


def years_ago(years: int, *, days: int = 0) -> date:
    return TODAY - relativedelta(years=years) + timedelta(days=days)


def organisation(
    country: str, kind: str, founded_on: date | None, state: str = VERIFIED
) -> Organisation:
    """An unsaved organisation: tiers are pure functions of its facts."""
    return Organisation(
        name="Example", country=country, kind=kind, founded_on=founded_on, verification_state=state
    )


@pytest.mark.parametrize(
    ("country", "kind", "founded_on", "expected"),
    [
        # European academics, whatever their age.
        ("NO", "university", date(1811, 9, 2), ACADEMIC),
        ("CH", "research_institute", date(1968, 1, 1), ACADEMIC),
        ("GB", "university", date(1096, 1, 1), ACADEMIC),
        ("IS", "university", None, ACADEMIC),
        ("DE", "research_institute", years_ago(1), ACADEMIC),
        ("LI", "university", date(1961, 1, 1), ACADEMIC),
        # European companies younger than 7 years are startups, older ones are "other".
        ("NO", "startup", years_ago(2), STARTUP),
        ("FR", "company", years_ago(7, days=1), STARTUP),
        ("GB", "startup", SEVEN_YEARS_AGO, OTHER),
        ("CH", "company", years_ago(7, days=-1), OTHER),
        ("IS", "company", years_ago(30), OTHER),
        ("DE", "startup", None, OTHER),
        # Other European kinds.
        ("NO", "public_body", years_ago(1), OTHER),
        ("SE", "non_profit", years_ago(1), OTHER),
        # Outside the region: international, whatever the kind or age.
        ("US", "university", date(1636, 9, 8), INTERNATIONAL),
        ("US", "startup", years_ago(1), INTERNATIONAL),
        ("JP", "research_institute", date(1917, 1, 1), INTERNATIONAL),
        ("JP", "company", years_ago(3), INTERNATIONAL),
    ],
)
def test_a_verified_organisation_gets_the_tier_of_its_country_kind_and_age(
    country: str, kind: str, founded_on: date | None, expected: PriorityTier
) -> None:
    assert organisation(country, kind, founded_on).priority_tier(today=TODAY) == expected


@pytest.mark.parametrize("state", [PENDING, REJECTED])
@pytest.mark.parametrize(
    ("country", "kind", "founded_on"),
    [
        ("NO", "university", date(1811, 9, 2)),
        ("CH", "research_institute", date(1968, 1, 1)),
        ("DE", "startup", years_ago(1)),
        ("GB", "company", years_ago(20)),
        ("US", "university", date(1636, 9, 8)),
    ],
)
def test_an_unverified_or_rejected_organisation_is_international(
    country: str, kind: str, founded_on: date, state: str
) -> None:
    assert organisation(country, kind, founded_on, state).priority_tier(today=TODAY) == (
        INTERNATIONAL
    )


def test_a_company_is_a_startup_until_the_day_before_its_seventh_birthday() -> None:
    birthday = SEVEN_YEARS_AGO
    assert is_younger_than(birthday + timedelta(days=1), years=7, on=TODAY)
    assert not is_younger_than(birthday, years=7, on=TODAY)
    assert not is_younger_than(None, years=7, on=TODAY)


def test_a_startup_founded_on_a_leap_day_stays_young_until_its_birthday_is_reached() -> None:
    leap_day = date(2016, 2, 29)
    assert is_younger_than(leap_day, years=7, on=date(2023, 2, 28))
    assert not is_younger_than(leap_day, years=7, on=date(2023, 3, 1))


def test_the_european_region_is_configurable(settings: Settings) -> None:
    settings.EUROPEAN_REGION = ["no", "US"]  # case does not matter
    assert organisation("US", "university", None).priority_tier(today=TODAY) == ACADEMIC
    assert organisation("NO", "startup", years_ago(1)).priority_tier(today=TODAY) == STARTUP
    assert organisation("DE", "university", None).priority_tier(today=TODAY) == INTERNATIONAL


def test_the_startup_age_is_configurable(settings: Settings) -> None:
    settings.STARTUP_MAX_AGE_YEARS = 3
    assert organisation("NO", "startup", years_ago(2)).priority_tier(today=TODAY) == STARTUP
    assert organisation("NO", "startup", years_ago(4)).priority_tier(today=TODAY) == OTHER

    settings.STARTUP_MAX_AGE_YEARS = 10
    assert organisation("NO", "company", years_ago(9)).priority_tier(today=TODAY) == STARTUP


@pytest.mark.parametrize(
    ("tiers", "expected"),
    [
        ([], INTERNATIONAL),
        ([INTERNATIONAL], INTERNATIONAL),
        ([OTHER, ACADEMIC, STARTUP], ACADEMIC),
        ([INTERNATIONAL, STARTUP], STARTUP),
    ],
)
def test_a_person_gets_the_best_of_their_tiers(
    tiers: list[PriorityTier], expected: PriorityTier
) -> None:
    assert best_tier(tiers) == expected


def test_a_person_in_an_academic_and_a_startup_organisation_is_tier_one(
    bob: User, alice_org: Organisation
) -> None:
    assert user_tier(bob) == STARTUP
    MembershipFactory.create(user=bob, organisation=alice_org, role=MembershipRole.MEMBER)
    assert user_tier(bob) == ACADEMIC


def test_a_person_whose_only_organisation_is_pending_is_international(db: None) -> None:
    membership = MembershipFactory.create(
        organisation=OrganisationFactory.create(pending=True, kind="university", country="NO")
    )
    assert user_tier(membership.user) == INTERNATIONAL
