"""A scratch PostgreSQL database for the benchmarks that write a whole site (created next to
the one ``DATABASE_URL`` names, migrated, dropped at the end). Django is set up inside."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from stargate_portal.scratch_databases import scratch_database_create, scratch_database_drop


@contextmanager
def scratch_database(url: str, suffix: str, **env: str) -> Iterator[None]:
    """Point Django at ``<name>_<suffix>`` (with ``env`` set), migrate it, drop it after."""
    bench_url = scratch_database_create(url, suffix)
    os.environ.update(
        DATABASE_URL=bench_url,
        CELERY_BROKER_URL="memory://localhost/",
        ADMISSION_ON_SUBMIT="false",
        DJANGO_SETTINGS_MODULE="stargate_portal.settings",
        LOG_LEVEL="WARNING",
        **env,
    )
    os.environ.setdefault("SECRET_KEY", "benchmark-only")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    try:
        call_command("migrate", verbosity=0)
        yield
    finally:
        connections.close_all()
        scratch_database_drop(bench_url)
