"""Django's PostgreSQL backend (``ENGINE``, set by the settings for a ``postgres://`` URL),
with one change: a connection attempt that failed slowly makes this process skip the server
for ``DB_OUTAGE_SECONDS``.

A database host that drops packets (down, cut off by the network) costs each connection
attempt ``DB_CONNECT_TIMEOUT`` (5 s): every request of the outage would hold its web worker
that long before its 503, and a few such requests hold every worker, so even the pages that
need no database wait. After one attempt failed that slowly, the attempts of the next
``DB_OUTAGE_SECONDS`` in this process fail at once with an ``OperationalError``, which the
requests answer as any outage (503 with ``Retry-After``, ``stargate_portal.database_errors``).
A refused connection (a server restarting, none listening) fails in milliseconds and is tried
again by the next request, so a restart is noticed as soon as the server is back.
"""

import time
from typing import Any

import psycopg
from django.db.backends.postgresql import base

from stargate_portal.database_errors import DATABASE_OUTAGE, SLOW_CONNECT_FAILURE_SECONDS


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        if DATABASE_OUTAGE.resting():
            raise psycopg.OperationalError(
                "not tried: a connection attempt to the database failed after waiting "
                f"less than {DATABASE_OUTAGE.seconds:g} s ago"
            )
        started = time.monotonic()
        try:
            return super().get_new_connection(conn_params)
        except psycopg.OperationalError:
            if time.monotonic() - started >= SLOW_CONNECT_FAILURE_SECONDS:
                DATABASE_OUTAGE.record()
            raise
