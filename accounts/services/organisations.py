"""Writes on organisations: create, edit (which may send it back to verification)."""

from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.models import (
    Membership,
    MembershipRole,
    Organisation,
    OrganisationDomain,
    User,
    VerificationDecision,
    VerificationState,
)
from accounts.validation import clean_organisation_fields
from stargate_portal.errors import ValidationFailed

# Facts that decide the tier: changing one needs a new staff decision.
TIER_FACTS = ("country", "kind", "founded_on")
EDITABLE = ("name", "kind", "country", "registration_number", "website", "founded_on")


def organisation_create(
    *,
    user: User,
    name: str,
    kind: str,
    country: str,
    registration_number: str = "",
    website: str = "",
    founded_on: date | None = None,
    email_domains: list[str] | None = None,
) -> Organisation:
    """Create an organisation pending verification, with ``user`` as its owner."""
    fields = clean_organisation_fields(
        {
            "name": name.strip(),
            "kind": kind,
            "country": country.upper(),
            "registration_number": registration_number.strip(),
            "website": website,
            "founded_on": founded_on,
            "email_domains": email_domains or [],
        }
    )
    domains = fields.pop("email_domains")
    try:
        with transaction.atomic():
            organisation = Organisation.objects.create(**fields)
            Membership.objects.create(
                user=user, organisation=organisation, role=MembershipRole.OWNER
            )
            _replace_domains(organisation, domains)
    except IntegrityError as exc:  # a concurrent create with the same name won the race
        raise ValidationFailed.on_field(
            "name", _("An organisation with this name already exists in this country.")
        ) from exc
    return organisation


def organisation_update(*, organisation: Organisation, actor: User, **changes: Any) -> Organisation:
    """Edit an organisation; a change of country, kind or founding date reopens verification.

    So does a new e-mail domain: users on a verified domain join automatically, so staff check it.
    """
    unknown = set(changes) - {*EDITABLE, "email_domains"}
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    fields = clean_organisation_fields(dict(changes), instance=organisation)
    domains = fields.pop("email_domains", None)
    try:
        with transaction.atomic():
            locked = Organisation.objects.select_for_update().get(pk=organisation.pk)
            changed = [f for f in TIER_FACTS if f in fields and _differs(locked, f, fields[f])]
            if domains is not None and _adds_domains(locked, domains):
                changed.append("email_domains")
            for field, value in fields.items():
                setattr(locked, field, value)
            if changed and locked.verification_state != VerificationState.PENDING:
                _reopen(locked, actor=actor, changed=changed)
            locked.save()
            if domains is not None:
                _replace_domains(locked, domains)
    except IntegrityError as exc:  # a concurrent edit took the name in this country first
        raise ValidationFailed.on_field(
            "name", _("An organisation with this name already exists in this country.")
        ) from exc
    return locked


def _differs(organisation: Organisation, field: str, value: Any) -> bool:
    return str(getattr(organisation, field) or "") != str(value or "")


def _reopen(organisation: Organisation, *, actor: User, changed: list[str]) -> None:
    organisation.verification_state = VerificationState.PENDING
    organisation.verification_decided_at = None
    organisation.verification_decided_by = None
    organisation.verification_reason = ""
    VerificationDecision.objects.create(
        organisation=organisation,
        decision=VerificationDecision.Decision.REOPENED,
        decided_by=actor,
        reason=_("Changed: %(fields)s") % {"fields": ", ".join(changed)},
    )


def _adds_domains(organisation: Organisation, domains: list[str]) -> bool:
    existing = OrganisationDomain.objects.filter(organisation=organisation)
    return bool(set(domains) - set(existing.values_list("domain", flat=True)))


def _replace_domains(organisation: Organisation, domains: list[str]) -> None:
    current = OrganisationDomain.objects.filter(organisation=organisation)
    current.exclude(domain__in=domains).delete()
    existing = set(current.values_list("domain", flat=True))
    OrganisationDomain.objects.bulk_create(
        OrganisationDomain(organisation=organisation, domain=d)
        for d in domains
        if d not in existing
    )
