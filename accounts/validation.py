"""Organisation field rules shared by every way in (API, portal, console, seed data)."""

import re
from collections.abc import Iterable
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.utils import timezone
from django.utils.translation import gettext as _
from django_countries import countries

from accounts.models import Organisation, OrganisationDomain, OrganisationKind, VerificationState
from accounts.registration_numbers import check_registration_number
from stargate_portal.errors import ValidationFailed

_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")

Errors = dict[str, list[str]]


def normalise_domains(domains: Iterable[str]) -> list[str]:
    return sorted({d.strip().lower().lstrip("@") for d in domains if d and d.strip()})


def claimed_domains(domains: list[str], *, exclude_pk: int | None) -> set[str]:
    """Domains among ``domains`` already claimed by another verified organisation."""
    taken = OrganisationDomain.objects.filter(
        domain__in=domains, organisation__verification_state=VerificationState.VERIFIED
    )
    if exclude_pk is not None:
        taken = taken.exclude(organisation_id=exclude_pk)
    return set(taken.values_list("domain", flat=True))


def clean_organisation_fields(
    fields: dict[str, Any], *, instance: Organisation | None = None
) -> dict[str, Any]:
    """Validate and normalise organisation fields; raise one ValidationFailed with all errors."""
    errors: Errors = {}
    _normalise(fields)
    merged = _merged(fields, instance)
    _check_identity(fields, merged, instance, errors)
    _check_founding(merged, errors)
    if "country" not in errors:
        _check_registration_number(fields, merged, errors)
    if "website" in fields:
        _check_website(fields["website"], errors)
    if "email_domains" in fields:
        domains = normalise_domains(fields["email_domains"])
        fields["email_domains"] = domains
        _check_domains(domains, instance, errors)
    if errors:
        raise ValidationFailed(_("The organisation is invalid; see details."), details=errors)
    return fields


def _normalise(fields: dict[str, Any]) -> None:
    for name in ("name", "registration_number", "website"):
        if name in fields:
            fields[name] = str(fields[name] or "").strip()
    if "country" in fields:
        fields["country"] = str(fields["country"] or "").strip().upper()


def _merged(fields: dict[str, Any], instance: Organisation | None) -> dict[str, Any]:
    base: dict[str, Any] = {}
    if instance is not None:
        base = {
            "name": instance.name,
            "country": str(instance.country),
            "kind": instance.kind,
            "founded_on": instance.founded_on,
            "registration_number": instance.registration_number,
        }
    return base | fields


def _check_identity(
    fields: dict[str, Any], merged: dict[str, Any], instance: Organisation | None, errors: Errors
) -> None:
    """Name, kind and country; the name is unique per country whatever its case."""
    if "name" in fields and not fields["name"]:
        errors["name"] = [_("Give the organisation's name.")]
    if "kind" in fields and fields["kind"] not in OrganisationKind.values:
        errors["kind"] = [_("Choose one of the kinds of organisation offered.")]
    if "country" in fields and fields["country"] not in countries:
        errors["country"] = [_("Choose a country from the list (a two-letter ISO code).")]
    moved = "name" in fields or "country" in fields
    valid = not errors.keys() & {"name", "country"}
    if moved and valid and _name_taken(merged["name"], merged["country"], instance):
        field = "name" if "name" in fields else "country"
        errors[field] = [_("An organisation with this name already exists in this country.")]


def _check_founding(merged: dict[str, Any], errors: Errors) -> None:
    founded_on: date | None = merged.get("founded_on")
    if founded_on and founded_on > timezone.localdate():
        errors["founded_on"] = [_("The founding date cannot be in the future.")]
    if merged.get("kind") == OrganisationKind.STARTUP and not founded_on:
        errors["founded_on"] = [_("A startup must give its founding date.")]


def _check_registration_number(
    fields: dict[str, Any], merged: dict[str, Any], errors: Errors
) -> None:
    number = merged.get("registration_number") or ""
    country = str(merged.get("country") or "")
    if not (number and country):
        return
    check = check_registration_number(country, number)
    if check.valid is False:
        errors["registration_number"] = [
            _("This is not a valid number for %(country)s (%(scheme)s).")
            % {"country": country, "scheme": check.scheme}
        ]
    elif "registration_number" in fields:
        fields["registration_number"] = check.number


def _check_website(website: str, errors: Errors) -> None:
    if not website:
        return
    try:
        URLValidator(schemes=["http", "https"])(website)
    except DjangoValidationError:
        errors["website"] = [_("Enter the full address, such as https://www.example.org.")]


def _name_taken(name: str, country: str, instance: Organisation | None) -> bool:
    same = Organisation.objects.filter(name__iexact=name.strip(), country=country)
    if instance is not None:
        same = same.exclude(pk=instance.pk)
    return same.exists()


def _check_domains(domains: list[str], instance: Organisation | None, errors: Errors) -> None:
    bad = [d for d in domains if not _DOMAIN_RE.match(d)]
    if bad:
        errors["email_domains"] = [_("Not a valid domain: %(d)s.") % {"d": ", ".join(bad)}]
        return
    taken = claimed_domains(domains, exclude_pk=instance.pk if instance else None)
    if taken:
        errors["email_domains"] = [
            _("Already claimed by another verified organisation: %(d)s.")
            % {"d": ", ".join(sorted(taken))}
        ]
