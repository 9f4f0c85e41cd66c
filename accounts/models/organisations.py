from datetime import date
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

from accounts.tiers import PriorityTier, organisation_tier


class OrganisationKind(models.TextChoices):
    UNIVERSITY = "university", _("University")
    RESEARCH_INSTITUTE = "research_institute", _("Public research institute")
    STARTUP = "startup", _("Startup")
    COMPANY = "company", _("Company")
    PUBLIC_BODY = "public_body", _("Public body")
    NON_PROFIT = "non_profit", _("Non-profit")


class VerificationState(models.TextChoices):
    PENDING = "pending", _("Pending verification")
    VERIFIED = "verified", _("Verified")
    REJECTED = "rejected", _("Rejected")


class Organisation(models.Model):
    """A tenant: a university, institute or company whose verified facts decide its tier."""

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=32, choices=OrganisationKind.choices)
    country = CountryField(_("country"))
    registration_number = models.CharField(
        _("VAT or registration number"), max_length=64, blank=True
    )
    website = models.URLField(_("website"), blank=True)
    founded_on = models.DateField(_("founding date"), null=True, blank=True)
    verification_state = models.CharField(
        _("verification"),
        max_length=16,
        choices=VerificationState.choices,
        default=VerificationState.PENDING,
    )
    verification_reason = models.TextField(_("verification reason"), blank=True)
    verification_decided_at = models.DateTimeField(null=True, blank=True)
    verification_decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name",)
        constraints: ClassVar = [
            models.UniqueConstraint(
                Lower("name"), "country", name="organisation_name_unique_per_country"
            ),
            models.CheckConstraint(
                condition=models.Q(verification_state="pending")
                | models.Q(verification_decided_at__isnull=False),
                name="organisation_decision_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.country})"

    @property
    def is_verified(self) -> bool:
        return self.verification_state == VerificationState.VERIFIED

    def priority_tier(self, today: date | None = None) -> PriorityTier:
        return organisation_tier(self, today=today)


class OrganisationDomain(models.Model):
    """An e-mail domain of an organisation: confirmed users on it join automatically."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="domains")
    domain = models.CharField(_("e-mail domain"), max_length=253, db_index=True)

    class Meta:
        ordering = ("domain",)
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["organisation", "domain"], name="domain_once_per_org"),
        ]

    def __str__(self) -> str:
        return self.domain


class VerificationDecision(models.Model):
    """Audit trail: every verification decision, and every return to verification."""

    class Decision(models.TextChoices):
        VERIFIED = "verified", _("Verified")
        REJECTED = "rejected", _("Rejected")
        REOPENED = "reopened", _("Sent back to verification")

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="verification_decisions"
    )
    decision = models.CharField(max_length=16, choices=Decision.choices)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField()
    evidence = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"{self.organisation_id} {self.decision} at {self.created_at:%Y-%m-%d %H:%M}"
