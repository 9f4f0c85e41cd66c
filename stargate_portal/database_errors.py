"""When the database cannot answer a request: 503 with ``Retry-After``, never a 500.

A request the database could not serve (PostgreSQL down or restarting, no connection left,
a statement stopped by the web process's ``statement_timeout``, a lock or a serialization
conflict it gave up on, a server turned read-only by a fail-over, SQLite's "database is
locked") is not a fault in the code and not the client's: the honest answer is "unavailable,
try again in a few seconds". The transaction the
request was in is rolled back, so nothing is half-written; a submit retried with the same
``Idempotency-Key`` is never queued twice.

The API answers in the error shape (``stargate_portal.api.errors``), other pages with a page
that reads nothing from the database (``stargate_portal.errorpages``); both ask
``database_failure`` which errors these are.
"""

from django.db import InterfaceError, InternalError, OperationalError

from stargate_portal.outages import Outage

READ_ONLY_SQLSTATE = "25006"
"""PostgreSQL's read_only_sql_transaction."""

RETRY_AFTER_SECONDS = 5
"""What ``Retry-After`` tells the client: about a PostgreSQL restart or fail-over."""

DATABASE_OUTAGE = Outage("DB_OUTAGE_SECONDS")
"""When a connection attempt of this process last failed slowly (``stargate_portal.postgresql``):
the attempts of the next ``DB_OUTAGE_SECONDS`` fail at once."""

SLOW_CONNECT_FAILURE_SECONDS = 1.0
"""A failed connection attempt that took this long waited for a host that does not answer (a
refused one takes milliseconds)."""

CODE = "database_unavailable"
MESSAGE = (
    "The database could not serve this request just now. Try again in a few seconds; a job "
    "submitted again with the same Idempotency-Key is never queued twice."
)


def database_failure(exc: BaseException | None) -> bool:
    """Whether ``exc`` says the database could not serve the request now (not a bug).

    Django wraps every driver error in its own classes: ``OperationalError`` covers a refused or
    lost connection, a cancelled statement (timeout), a lock not granted, a deadlock or
    serialization failure and SQLite's locked database; ``InterfaceError`` a connection that
    was already closed. One ``InternalError`` is an outage too: a write refused because the
    server is read-only (SQLSTATE 25006), as a primary demoted in a fail-over is until the
    connection moves. An ``IntegrityError`` or a ``ProgrammingError`` is not an outage."""
    if isinstance(exc, InternalError):
        return getattr(exc.__cause__, "sqlstate", None) == READ_ONLY_SQLSTATE
    return isinstance(exc, OperationalError | InterfaceError)
