"""One admission cycle at a time across every worker.

PostgreSQL: a transaction-level advisory lock, released by the commit (or by the server when
a worker dies). SQLite (one host): an exclusive lock on a file next to the database, released
by the operating system when the process dies; an in-memory database (tests) lives in one
process, so a lock in that process is enough.
"""

import fcntl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connection, transaction

ADVISORY_LOCK_KEY = 0x5347_5041_444D_4954  # "SGPADMIT"
_IN_PROCESS = threading.Lock()


@contextmanager
def cycle_lock() -> Iterator[bool]:
    """Run the enclosed block in one transaction holding the cycle lock; yields False (and
    holds nothing) when another cycle is running."""
    if connection.vendor == "postgresql":
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])
                acquired = bool(cursor.fetchone()[0])
            yield acquired
        return
    with _local_lock() as acquired, transaction.atomic():
        yield acquired


@contextmanager
def _local_lock() -> Iterator[bool]:
    name = str(connection.settings_dict["NAME"])
    if not name or name == ":memory:" or "mode=memory" in name:
        if not _IN_PROCESS.acquire(blocking=False):
            yield False
            return
        try:
            yield True
        finally:
            _IN_PROCESS.release()
        return
    with Path(f"{name}.admission-lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
