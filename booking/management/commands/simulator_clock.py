"""Show, freeze, step or release the simulator's clock (tests, demos and replays)::

manage.py simulator_clock show
manage.py simulator_clock freeze
manage.py simulator_clock step 300      # seconds; works on a running clock too
manage.py simulator_clock unfreeze
"""

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from booking.cluster.registry import cluster_backend
from booking.cluster.simulator.backend import SimulatorBackend
from booking.models import SimulatedClock


class Command(BaseCommand):
    help = "Show, freeze, step (seconds) or unfreeze the simulated cluster's clock."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=("show", "freeze", "step", "unfreeze"))
        parser.add_argument("seconds", nargs="?", type=float, help="how far to step")

    def handle(self, *args: Any, action: str, seconds: float | None, **options: Any) -> None:
        backend = cluster_backend()
        if not isinstance(backend, SimulatorBackend):
            raise CommandError(f"The {backend.name} backend's clock is the cluster's own.")
        if action == "step":
            if seconds is None or not 0 < seconds <= 366 * 86400:
                raise CommandError("step takes a number of seconds, above 0 and at most a year.")
            now = backend.advance(timedelta(seconds=seconds))
        elif action == "freeze":
            now = backend.freeze()
        elif action == "unfreeze":
            now = backend.unfreeze()
        else:
            now = backend.now()
        frozen = SimulatedClock.objects.filter(pk=1, frozen_at__isnull=False).exists()
        self.stdout.write(f"{now.isoformat()} ({'frozen' if frozen else 'running'})")
