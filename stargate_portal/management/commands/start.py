"""Start a production process only once the site is ready for it; the Procfile runs every
process through here, so no step can be forgotten.

    manage.py start --release -- gunicorn …    (web) deploy check, migrate, collectstatic
    manage.py start -- celery -A stargate_portal …    (workers, beat) deploy check, then wait
                                                       until the database schema is current

Then the process becomes the command (``exec``: signals reach it directly). Migrations run
under a PostgreSQL advisory lock, so web processes starting together on several machines
migrate once; the others wait, then find nothing to do. Every process gets
``PROMETHEUS_MULTIPROC_DIR`` (``settings.METRICS_DIR`` unless set), where the processes of one
machine share their metrics (``stargate_portal.metrics``).
"""

import argparse
import io
import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import OperationalError, connection, connections
from django.db.migrations.executor import MigrationExecutor

from stargate_portal.database_errors import DATABASE_OUTAGE
from stargate_portal.metrics import MULTIPROCESS_ENV

logger = logging.getLogger("stargate_portal.start")

MIGRATION_LOCK_KEY = 0x5347_5041_4D49_4752  # "SGPAMIGR"
POLL_SECONDS = 2.0


class Command(BaseCommand):
    help = "Check the deployment (and migrate, collect static files), then run a process."
    requires_system_checks: list[str] = []  # the deploy check below is stricter

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--release",
            action="store_true",
            help="apply migrations and collect static files first (the web process)",
        )
        parser.add_argument(
            "--wait-seconds",
            type=float,
            default=300.0,
            help="how long to wait for the database and its migrations (default 300)",
        )
        parser.add_argument("process", nargs=argparse.REMAINDER, help="-- the command to run")

    def handle(self, *args: Any, **options: Any) -> None:
        process = options["process"]
        if process[:1] == ["--"]:
            process = process[1:]
        if not process:
            raise CommandError("Name the process after --, e.g. start -- celery -A stargate_portal")
        # A warning stops the start; what the commands print goes to the log, one record a line.
        call_command("check", deploy=True, fail_level="WARNING", stdout=_LogLines())
        deadline = time.monotonic() + options["wait_seconds"]
        _database_wait(deadline)
        if options["release"]:
            with _migration_lock():
                call_command("migrate", interactive=False, stdout=_LogLines())
            call_command("collectstatic", interactive=False, stdout=_LogLines())
        else:
            _migrations_wait(deadline)
        metrics_dir = os.environ.setdefault(MULTIPROCESS_ENV, str(settings.METRICS_DIR))
        Path(metrics_dir).mkdir(parents=True, exist_ok=True)
        connections.close_all()
        logger.info("starting: %s", " ".join(process))
        sys.stdout.flush()
        sys.stderr.flush()
        os.execvp(process[0], process)  # noqa: S606 - the operator's own Procfile command


class _LogLines(io.TextIOBase):
    """A stream that logs each line written to it."""

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line.strip():
                logger.info(line.rstrip())
        return len(text)


def _database_wait(deadline: float) -> None:
    while True:
        # Each poll tries the server: the pause after a slow failure is for requests, and here
        # the last attempt's own error is what the operator must read.
        DATABASE_OUTAGE.forget()
        try:
            connection.ensure_connection()
            return
        except OperationalError as exc:
            if time.monotonic() > deadline:
                raise CommandError(f"The database did not answer in time: {exc}") from exc
            logger.warning("waiting for the database: %s", exc)
            connection.close()
            time.sleep(POLL_SECONDS)


def _migrations_wait(deadline: float) -> None:
    """Workers and beat start beside the web process that migrates: they wait for it."""
    while True:
        executor = MigrationExecutor(connection)
        unapplied = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if not unapplied:
            return
        if time.monotonic() > deadline:
            raise CommandError(
                f"{len(unapplied)} migrations are not applied; start the web process "
                "(manage.py start --release) or run manage.py migrate."
            )
        logger.info("waiting for %s migrations to be applied", len(unapplied))
        time.sleep(POLL_SECONDS)


@contextmanager
def _migration_lock() -> Iterator[None]:
    """One migrating process at a time on PostgreSQL (a session lock held across migrate's
    transactions); SQLite serves one machine, where the Procfile starts one web process."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_KEY])
