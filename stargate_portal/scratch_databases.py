"""Scratch PostgreSQL databases for the benchmarks that build a whole site: created next to the
database a URL names (``<name>_<suffix>``), dropped when done."""

from __future__ import annotations

from urllib.parse import urlparse, urlunparse


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
