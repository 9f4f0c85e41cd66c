"""Demo GPU types, an open call, a reviewer and awarded projects. Idempotent."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from booking.grants.services.applications import application_create, application_submit
from booking.grants.services.calls import call_create, call_open
from booking.grants.services.decisions import application_award
from booking.models import REVIEWERS_GROUP, Application, Call, GpuType

GPU_TYPES = [("H100", 80, 700), ("H200", 141, 700), ("GB200", 192, 1200)]
PASSWORD = "stargate-demo-2026"  # noqa: S105 - printed demo login
# (applicant, project title, awarded hours per type)
AWARDS = [
    ("alice@uio.no", "NorLLM: a Norwegian foundation model", {"H100": 40_000, "H200": 8_000}),
    ("bob@fjordai.no", "Fjord AI: weather foundation model", {"H100": 15_000}),
    ("charlie@acme.example", "Acme protein folding", {"H100": 5_000}),
]


class Command(BaseCommand):
    help = "Load demo GPU types, a call, a reviewer and awarded projects (after seed_demo)."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        for name, memory_gb, watts in GPU_TYPES:
            GpuType.objects.get_or_create(
                name=name, defaults={"memory_gb": memory_gb, "power_watts": watts}
            )
        staff = User.objects.get(email="staff@stargate.eu")
        self._reviewer()
        call = Call.objects.filter(title="Stargate AI Factory call 2027").first()
        if call is None:
            call = self._call(staff)
        for email, title, hours in AWARDS:
            if not Application.objects.filter(title=title).exists():
                self._award(call, staff, email, title, hours)
        self.stdout.write(self.style.SUCCESS("Grants demo ready (call, reviewer, projects)."))
        self.stdout.write(f"  {'rita@kth.se':<24} password: {PASSWORD} (reviewer)")

    def _reviewer(self) -> None:
        user = User.objects.filter(email="rita@kth.se").first() or User.objects.create_user(
            "rita@kth.se", PASSWORD, full_name="Rita Reviewer"
        )
        EmailAddress.objects.get_or_create(
            user=user, email=user.email, defaults={"verified": True, "primary": True}
        )
        user.groups.add(Group.objects.get_or_create(name=REVIEWERS_GROUP)[0])

    def _call(self, staff: User) -> Call:
        now = timezone.now()
        call = call_create(
            staff=staff,
            title="Stargate AI Factory call 2027",
            description="GPU time for European research and startups training AI models.",
            opens_at=now - timedelta(days=1),
            closes_at=now + timedelta(days=60),
            allowed_tiers=[1, 2, 3, 4],
            max_request_gpu_hours=Decimal(100_000),
            pools={"H100": Decimal(500_000), "H200": Decimal(100_000), "GB200": Decimal(50_000)},
        )
        return call_open(call=call, staff=staff)

    def _award(
        self, call: Call, staff: User, email: str, title: str, hours: dict[str, int]
    ) -> None:
        user = User.objects.get(email=email)
        today = timezone.localdate()
        application = application_create(
            user=user,
            call=call,
            organisation=user.memberships.get().organisation,
            title=title,
            abstract="Demo project.",
            case_for_support="Demo.",
            gpus_per_job=8,
            typical_walltime_hours=12,
            model_description="Transformer.",
            dataset_provenance="Public data.",
            dataset_licence="CC-BY 4.0",
            ai_act_risk="minimal",
            planned_start=today - timedelta(days=1),
            planned_end=today + timedelta(days=365),
            requests={name: Decimal(h) for name, h in hours.items()},
        )
        application_submit(application=application, user=user)
        application_award(
            application=application,
            staff=staff,
            reason="Demo award.",
            gpu_hours={name: Decimal(h) for name, h in hours.items()},
        )
