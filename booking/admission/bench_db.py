"""A scratch PostgreSQL database for the admission benchmarks that write a whole site: as every
benchmark's (``stargate_portal.scratch_databases``), with no admission cycle per submission."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from stargate_portal.scratch_databases import scratch_django_database


@contextmanager
def scratch_database(url: str, suffix: str, **env: str) -> Iterator[None]:
    """Point Django at ``<name>_<suffix>`` (with ``env`` set), migrate it, drop it after."""
    with scratch_django_database(url, suffix, env={"ADMISSION_ON_SUBMIT": "false", **env}):
        yield
