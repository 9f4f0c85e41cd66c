"""Staff decisions on organisations, each one audited with the evidence seen."""

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import (
    MembershipRole,
    Organisation,
    OrganisationDomain,
    User,
    VerificationDecision,
    VerificationState,
)
from accounts.registration_numbers import check_registration_number
from accounts.tiers import european_region, organisation_tier
from accounts.validation import claimed_domains
from stargate_portal.errors import Conflict, ValidationFailed
from stargate_portal.permissions import require_staff


def verification_evidence(organisation: Organisation) -> dict[str, Any]:
    """What staff look at: VAT check, domain match, country in region, age, resulting tier."""
    country = str(organisation.country)
    check = (
        check_registration_number(country, organisation.registration_number)
        if organisation.registration_number
        else None
    )
    domains = [d.domain for d in organisation.domains.all()]
    owner_emails = [
        m.user.email for m in organisation.memberships.all() if m.role == MembershipRole.OWNER
    ]
    website_host = _host(organisation.website)
    founded = organisation.founded_on
    today = timezone.localdate()
    return {
        "registration_number": organisation.registration_number,
        "registration_check": check.label if check else "no number given",
        "registration_valid": check.valid if check else None,
        "email_domains": domains,
        "owner_emails": owner_emails,
        "owner_domain_matches": any(e.rsplit("@", 1)[-1] in domains for e in owner_emails),
        "website_matches_domain": bool(website_host)
        and any(website_host == d or website_host.endswith("." + d) for d in domains),
        "country": country,
        "country_in_region": country in european_region(),
        "age_years": round((today - founded).days / 365.25, 1) if founded else None,
        "tier_if_verified": int(_tier_if_verified(organisation)),
    }


def _host(url: str) -> str:
    host = url.split("://", 1)[-1].split("/", 1)[0].lower()
    return host.removeprefix("www.")


def _tier_if_verified(organisation: Organisation) -> int:
    state = organisation.verification_state
    organisation.verification_state = VerificationState.VERIFIED
    try:
        return organisation_tier(organisation)
    finally:
        organisation.verification_state = state


def organisation_verify(*, organisation: Organisation, staff: User, reason: str) -> Organisation:
    """Mark verified: its tier now follows from its facts. Domains must still be unclaimed."""
    return _decide(organisation, staff=staff, reason=reason, state=VerificationState.VERIFIED)


def organisation_reject(*, organisation: Organisation, staff: User, reason: str) -> Organisation:
    """Mark rejected (tier 4) with the reason shown to its members."""
    return _decide(organisation, staff=staff, reason=reason, state=VerificationState.REJECTED)


def _decide(
    organisation: Organisation, *, staff: User, reason: str, state: VerificationState
) -> Organisation:
    require_staff(staff, _("Only staff decide on verification."))
    if not reason.strip():
        raise ValidationFailed.on_field("reason", _("Give a reason for the decision."))
    with transaction.atomic():
        locked = Organisation.objects.select_for_update().get(pk=organisation.pk)
        if locked.verification_state == state:
            raise Conflict(
                _("The organisation is already %(state)s.")
                % {"state": locked.get_verification_state_display()},
                code="already_decided",
            )
        if state == VerificationState.VERIFIED:
            _refuse_claimed_domains(locked)
        locked.verification_state = state
        locked.verification_reason = reason.strip()
        locked.verification_decided_at = timezone.now()
        locked.verification_decided_by = staff
        locked.save()
        VerificationDecision.objects.create(
            organisation=locked,
            decision=state,
            decided_by=staff,
            reason=reason.strip(),
            evidence=verification_evidence(locked),
        )
        if state == VerificationState.VERIFIED:
            from accounts.services.memberships import memberships_join_by_domain

            memberships_join_by_domain(organisation=locked)
    return locked


def _refuse_claimed_domains(organisation: Organisation) -> None:
    domains = list(
        OrganisationDomain.objects.filter(organisation=organisation).values_list(
            "domain", flat=True
        )
    )
    # Lock every organisation's rows of these domains (in one order) so that two organisations
    # sharing a domain and verified at once queue up, and the second sees the first's claim.
    list(
        OrganisationDomain.objects.select_for_update()
        .filter(domain__in=domains)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    taken = claimed_domains(domains, exclude_pk=organisation.pk)
    if taken:
        raise Conflict(
            _("E-mail domains already claimed by another verified organisation: %(d)s.")
            % {"d": ", ".join(sorted(taken))},
            code="domain_claimed",
            details={"email_domains": sorted(taken)},
        )
