"""Set up the simulated demo site and give the demo personas projects to submit jobs to.

Idempotent. Run after ``seed_demo`` (and ``seed_grants_demo`` if you have it: its awarded
projects are used; otherwise alice, bob and charlie each get a demo project here).
"""

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from booking.cluster.simulator.backend import SimulatorBackend
from booking.ledger.services import ledger_grant
from booking.models import (
    Allocation,
    GpuType,
    Project,
    ProjectMember,
    ProjectRole,
    SimulatedPartition,
)

GPU_TYPES = {"H100": (80, 700), "H200": (141, 700)}
# (person, project name, GPU-hours per GPU type)
PROJECTS = [
    ("alice@uio.no", "NorLLM (demo)", {"H100": 40_000, "H200": 8_000}),
    ("bob@fjordai.no", "Fjord weather model (demo)", {"H100": 15_000, "H200": 2_000}),
    ("charlie@acme.example", "Acme protein folding (demo)", {"H100": 5_000}),
]


class Command(BaseCommand):
    help = "Simulated demo site (nodes of H100 and H200) and demo projects with GPU-hours."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--nodes",
            nargs="*",
            default=[],
            metavar="TYPE=N",
            help="Nodes per GPU type, e.g. H100=240 H200=120 (default: SIMULATOR_SITE).",
        )

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        layout = dict(settings.SIMULATOR_SITE) | _parse_nodes(options["nodes"])
        simulator = SimulatorBackend()
        for name, nodes in layout.items():
            memory_gb, watts = GPU_TYPES.get(name, (80, 700))
            gpu_type, _created = GpuType.objects.get_or_create(
                name=name, defaults={"memory_gb": memory_gb, "power_watts": watts}
            )
            partition = SimulatedPartition.objects.filter(gpu_type=gpu_type).first()
            if partition is None or partition.nodes != nodes:
                simulator.set_partition(gpu_type, nodes=nodes)
            self.stdout.write(f"  {name}: {nodes} nodes x {gpu_type.gpus_per_node} GPUs")
        for email, project_name, hours in PROJECTS:
            user = User.objects.filter(email=email).first()
            if user is None:
                self.stdout.write(self.style.WARNING(f"  {email} missing: run seed_demo first"))
            elif not ProjectMember.objects.filter(user=user).exists():
                self._project(user, project_name, hours)
        self.stdout.write(self.style.SUCCESS("Simulated site ready; next: manage.py demo_workload"))

    def _project(self, user: User, name: str, hours: dict[str, int]) -> None:
        membership = user.memberships.select_related("organisation").first()
        if membership is None:
            return
        project = Project.objects.create(name=name, organisation=membership.organisation)
        ProjectMember.objects.create(project=project, user=user, role=ProjectRole.PI)
        today = timezone.localdate()
        for type_name, gpu_hours in hours.items():
            gpu_type = GpuType.objects.get(name=type_name)
            Allocation.objects.create(
                project=project,
                gpu_type=gpu_type,
                starts_on=today - timedelta(days=1),
                ends_on=today + timedelta(days=365),
            )
            ledger_grant(
                project=project,
                gpu_type=gpu_type,
                gpu_hours=Decimal(gpu_hours),
                key=f"demo-grant-{project.pk}-{type_name}",
                reason="Demo allocation.",
            )
        self.stdout.write(f"  {user.email}: project {name!r} with {hours}")


def _parse_nodes(pairs: list[str]) -> dict[str, int]:
    layout = {}
    for pair in pairs:
        name, _, count = pair.partition("=")
        layout[name.strip()] = int(count)
    return layout
