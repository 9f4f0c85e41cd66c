"""Load the demo personas and organisations. Idempotent: running it again changes nothing."""

from datetime import date
from typing import Any

from allauth.account.models import EmailAddress
from dateutil.relativedelta import relativedelta
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.models import Organisation, User
from accounts.services.organisations import organisation_create
from accounts.services.verification import organisation_verify

DEMO_PASSWORD = "stargate-demo-2026"  # noqa: S105 - printed demo login

# (e-mail, full name, staff, organisation facts or None, verified)
PEOPLE: list[tuple[str, str, bool, dict[str, Any] | None, bool]] = [
    ("staff@stargate.eu", "Sigrid Staff", True, None, False),
    (
        "alice@uio.no",
        "Alice Academic",
        False,
        {
            "name": "University of Oslo",
            "kind": "university",
            "country": "NO",
            "registration_number": "971035854",
            "website": "https://www.uio.no",
            "founded_on": date(1811, 9, 2),
            "email_domains": ["uio.no"],
        },
        True,
    ),
    (
        "bob@fjordai.no",
        "Bob Builder",
        False,
        {
            "name": "Fjord AI AS",
            "kind": "startup",
            "country": "NO",
            "registration_number": "923609016",
            "website": "https://fjordai.no",
            "founded_on": timezone.localdate() - relativedelta(years=2),
            "email_domains": ["fjordai.no"],
        },
        True,
    ),
    (
        "charlie@acme.example",
        "Charlie Compute",
        False,
        {
            "name": "Acme Compute Inc",
            "kind": "company",
            "country": "US",
            "website": "https://acme.example",
            "founded_on": date(2001, 5, 1),
            "email_domains": ["acme.example"],
        },
        True,
    ),
    (
        "dana@ntnu.no",
        "Dana Doctoral",
        False,
        {
            "name": "NTNU",
            "kind": "university",
            "country": "NO",
            "registration_number": "974767880",
            "website": "https://www.ntnu.no",
            "founded_on": date(1996, 1, 1),
            "email_domains": ["ntnu.no"],
        },
        False,
    ),
]


class Command(BaseCommand):
    help = "Load demo personas (staff, alice, bob, charlie, dana) and their organisations."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        staff = self._person("staff@stargate.eu", "Sigrid Staff", is_staff=True)
        for email, name, is_staff, facts, verified in PEOPLE:
            user = self._person(email, name, is_staff=is_staff)
            if facts is None or Organisation.objects.filter(name=facts["name"]).exists():
                continue
            organisation = organisation_create(user=user, **facts)
            if verified:
                organisation_verify(
                    organisation=organisation, staff=staff, reason="Demo data: registry checked."
                )
        call_command("seed_grants_demo", stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data ready. Log in at http://127.0.0.1:8000/"))
        for email, _name, is_staff, _facts, _verified in PEOPLE:
            role = " (staff console: /console/)" if is_staff else ""
            self.stdout.write(f"  {email:<24} password: {DEMO_PASSWORD}{role}")

    def _person(self, email: str, name: str, *, is_staff: bool) -> User:
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            user = User.objects.create_user(
                email, DEMO_PASSWORD, full_name=name, is_staff=is_staff, is_superuser=is_staff
            )
        EmailAddress.objects.get_or_create(
            user=user, email=email, defaults={"verified": True, "primary": True}
        )
        return user
