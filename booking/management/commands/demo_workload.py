"""Submit a realistic mix of jobs from the demo projects, once or every few seconds.

Sizes are mostly single-node with some multi-node jobs; runtimes are scripted short
(``# sim: runtime=…``) so that, with ``make run``, jobs move through their states within
seconds while their walltime (and so their hold) stays realistic. About one job in ten fails.
"""

import random
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from booking.jobs.services import job_submit
from booking.models import Allocation, ProjectMember, ProjectRole
from stargate_portal.errors import DomainError

SIZES = {1: 30, 2: 20, 4: 20, 8: 20, 16: 7, 32: 3}
WALLTIME_MINUTES = {30: 20, 60: 30, 120: 25, 240: 15, 480: 10}
NAMES = ("pretrain", "finetune", "eval", "sweep", "inference", "ablation", "tokenize")


class Command(BaseCommand):
    help = "Submit demo jobs from every project with an active allocation (after demo_site)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--jobs", type=int, default=40, help="jobs per round")
        parser.add_argument("--every", type=float, default=0, help="repeat every N seconds")
        parser.add_argument("--seed", type=int, default=None, help="random seed")

    def handle(self, *args: Any, **options: Any) -> None:
        rng = random.Random(options["seed"])  # noqa: S311 - demo data, not secrets
        while True:
            submitted, refused = self._round(rng, options["jobs"])
            self.stdout.write(f"submitted {submitted} jobs ({refused} refused)")
            if not options["every"]:
                return
            time.sleep(options["every"])

    def _round(self, rng: random.Random, count: int) -> tuple[int, int]:
        today = timezone.localdate()
        targets = [
            (allocation, member.user)
            for allocation in Allocation.objects.filter(
                starts_on__lte=today, ends_on__gte=today
            ).select_related("project", "gpu_type")
            for member in ProjectMember.objects.filter(
                project=allocation.project, role__in=(ProjectRole.PI, ProjectRole.MANAGER)
            ).select_related("user")[:1]
        ]
        if not targets:
            self.stderr.write("No project with an active allocation: run demo_site first.")
            return 0, 0
        submitted = refused = 0
        for _ in range(count):
            allocation, user = rng.choice(targets)
            try:
                job_submit(user=user, project=allocation.project, **_job(rng, allocation))
                submitted += 1
            except DomainError as error:
                refused += 1
                self.stderr.write(f"  refused ({error.code}): {error.message}")
        return submitted, refused


def _job(rng: random.Random, allocation: Allocation) -> dict[str, Any]:
    gpus = rng.choices(list(SIZES), weights=list(SIZES.values()))[0]
    walltime = rng.choices(list(WALLTIME_MINUTES), weights=list(WALLTIME_MINUTES.values()))[0]
    runtime = rng.randint(15, 180)
    exit_code = 1 if rng.random() < 0.1 else 0
    name = f"{rng.choice(NAMES)}-{rng.randint(100, 999)}"
    script = (
        f"#!/bin/bash\n#SBATCH --job-name={name}\n# sim: runtime={runtime}s exit={exit_code}\n"
        f"srun python {name.split('-')[0]}.py\n"
    )
    return {
        "gpu_type_name": allocation.gpu_type.name,
        "gpus": gpus,
        "walltime_minutes": walltime,
        "name": name,
        "script": script,
        "environment": {"WANDB_MODE": "offline"},
    }
