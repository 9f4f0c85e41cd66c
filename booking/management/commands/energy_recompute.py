"""Staff: recompute the energy of a period after a factor was corrected (audited)."""

import getpass
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from booking.energy.recompute import energy_recompute
from stargate_portal.errors import DomainError


def _month(text: str) -> date:
    try:
        return date.fromisoformat(f"{text}-01" if len(text) == 7 else text).replace(day=1)
    except ValueError as exc:
        raise CommandError(f"not a month (YYYY-MM): {text!r}") from exc


class Command(BaseCommand):
    help = (
        "Compute the energy records of the months --from to --to again with the factors now "
        "stored; prints the totals before and after, and keeps them in the audit."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="first", required=True, help="first month, YYYY-MM")
        parser.add_argument("--to", dest="last", required=True, help="last month, YYYY-MM")
        parser.add_argument("--reason", required=True, help="why (kept in the audit)")
        parser.add_argument("--by", default="", help="who asks (default: the login name)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = energy_recompute(
                first=_month(options["first"]),
                last=_month(options["last"]),
                reason=options["reason"],
                requested_by=options["by"] or getpass.getuser(),
            )
        except DomainError as error:
            raise CommandError(error.message) from error
        audit = report.recomputation
        self.stdout.write(
            f"Recomputed {audit.first_month:%Y-%m} to {audit.last_month:%Y-%m}: "
            f"{report.changed} records changed (audit #{audit.pk})."
        )
        self.stdout.write(f"{'figure':<26}{'before':>20}{'after':>20}")
        for name, before in report.before.items():
            self.stdout.write(f"{name:<26}{before:>20}{report.after[name]:>20}")
