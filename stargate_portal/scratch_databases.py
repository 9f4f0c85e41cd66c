"""Scratch PostgreSQL databases for the benchmarks that build a whole site: created next to the
database a URL names (``<name>_<suffix>``), dropped when done."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlparse, urlunparse


def postgres_url_or_skip(benchmark: str) -> str | None:
    """``DATABASE_URL`` when it names a PostgreSQL database; else None, after saying that
    ``benchmark`` is skipped (the benchmarks measure PostgreSQL, the production database)."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        return url
    print(f"{benchmark}: skipped (set DATABASE_URL=postgres://… to run it)")
    return None


def scratch_database_create(url: str, suffix: str) -> str:
    """Create (or re-create) the empty database ``<name>_<suffix>`` beside ``url``'s; its URL."""
    import psycopg

    parsed = urlparse(url)
    name = f"{parsed.path.lstrip('/') or 'postgres'}_{suffix}"
    with psycopg.connect(_maintenance(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunparse(parsed._replace(path=f"/{name}"))


def scratch_database_drop(url: str) -> None:
    """Drop the database ``url`` names, if it exists."""
    import psycopg

    name = urlparse(url).path.lstrip("/")
    with psycopg.connect(_maintenance(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def _maintenance(url: str) -> str:
    return urlunparse(urlparse(url)._replace(scheme="postgresql", path="/postgres"))


@contextmanager
def scratch_django_database(
    url: str, suffix: str, *, keep: bool = False, env: dict[str, str] | None = None
) -> Iterator[None]:
    """Point Django at a fresh ``<name>_<suffix>`` beside ``url``'s (with ``env`` set: a
    benchmark process only), migrate it, and drop it afterwards unless ``keep``."""
    bench_url = scratch_database_create(url, suffix)
    os.environ.update(
        DATABASE_URL=bench_url,
        CELERY_BROKER_URL="memory://localhost/",
        DJANGO_SETTINGS_MODULE="stargate_portal.settings",
        LOG_LEVEL="WARNING",
        **(env or {}),
    )
    os.environ.setdefault("SECRET_KEY", f"{suffix}-only")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    try:
        call_command("migrate", verbosity=0)
        yield
    finally:
        connections.close_all()
        if not keep:
            scratch_database_drop(bench_url)
