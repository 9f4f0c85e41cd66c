"""Priority tiers: computed from an organisation's verified facts, never typed in."""

from collections.abc import Collection
from datetime import date
from typing import TYPE_CHECKING

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from accounts.models import Organisation

ACADEMIC_KINDS = frozenset({"university", "research_institute"})
COMPANY_KINDS = frozenset({"startup", "company"})


class PriorityTier(models.IntegerChoices):
    """Lower number wins."""

    EUROPEAN_ACADEMIC = 1, _("European academic")
    EUROPEAN_STARTUP = 2, _("European startup")
    EUROPEAN_OTHER = 3, _("Other European organisation")
    INTERNATIONAL = 4, _("International or unverified")


def tier_for(
    *,
    verified: bool,
    country: str,
    kind: str,
    founded_on: date | None,
    today: date,
    region: Collection[str],
    startup_max_age_years: int,
) -> PriorityTier:
    """The tier of an organisation with these facts (the rules of ARCHITECTURE.md)."""
    if not verified or country.upper() not in region:
        return PriorityTier.INTERNATIONAL
    if kind in ACADEMIC_KINDS:
        return PriorityTier.EUROPEAN_ACADEMIC
    if kind in COMPANY_KINDS and is_younger_than(founded_on, years=startup_max_age_years, on=today):
        return PriorityTier.EUROPEAN_STARTUP
    return PriorityTier.EUROPEAN_OTHER


def is_younger_than(founded_on: date | None, *, years: int, on: date) -> bool:
    """True when founded strictly less than ``years`` before ``on`` (unknown date: not young)."""
    return founded_on is not None and founded_on > on - relativedelta(years=years)


def european_region() -> frozenset[str]:
    return frozenset(code.upper() for code in settings.EUROPEAN_REGION)


def organisation_tier(organisation: "Organisation", *, today: date | None = None) -> PriorityTier:
    return tier_for(
        verified=organisation.verification_state == "verified",
        country=str(organisation.country),
        kind=organisation.kind,
        founded_on=organisation.founded_on,
        today=today or timezone.localdate(),
        region=european_region(),
        startup_max_age_years=settings.STARTUP_MAX_AGE_YEARS,
    )


def best_tier(tiers: Collection[PriorityTier]) -> PriorityTier:
    """A person's tier: the best of those they act for (international when none)."""
    return min(tiers, default=PriorityTier.INTERNATIONAL)
