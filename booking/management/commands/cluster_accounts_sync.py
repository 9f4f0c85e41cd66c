"""Create or update the cluster account of every project (or of some), idempotently: what the
Celery task does after an award, a top-up or a suspension, and hourly for allocations that
ended. ``--dry-run`` prints the commands instead (the Slurm backend: sacctmgr lines)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from booking.cluster.base import BackendUnavailable
from booking.cluster.registry import cluster_backend
from booking.grants.cluster_accounts import cluster_accounts_sync, project_cluster_accounts


class Command(BaseCommand):
    help = "Provision each project's cluster account and limits (Slurm: sacctmgr)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", type=int, action="append", help="a project id")
        parser.add_argument("--dry-run", action="store_true", help="print, change nothing")

    def handle(self, *args: Any, project: list[int] | None, dry_run: bool, **options: Any) -> None:
        backend = cluster_backend()
        if not backend.manages_accounts:
            self.stdout.write(f"The {backend.name} backend keeps no accounts: nothing to do.")
            return
        try:
            if dry_run:
                self._dry_run(backend, project)
                return
            report = cluster_accounts_sync(project_ids=project, backend=backend)
        except BackendUnavailable as error:
            raise CommandError(f"The cluster does not answer: {error}") from error
        counts = report.as_dict()
        self.stdout.write(
            f"{counts['created']} created, {counts['updated']} updated, "
            f"{counts['unchanged']} unchanged."
        )

    def _dry_run(self, backend: Any, project: list[int] | None) -> None:
        today = timezone.localdate(backend.now())
        commands = backend.account_commands(project_cluster_accounts(project, today=today))
        for command in commands:
            self.stdout.write("sacctmgr -i " + " ".join(command))
        if not commands:
            self.stdout.write("Every account is as it should be.")
