"""``AddIndexWithoutLocking``: an index built concurrently on PostgreSQL (the ledger keeps
taking writes during an upgrade), rebuilt over one a failed run left, removed the same way."""

import pytest
from django.db import connection, models
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.state import ProjectState
from django.test.utils import CaptureQueriesContext

from stargate_portal.migration_operations import AddIndexWithoutLocking

NAME = "test_index_without_locking"


def index_state() -> tuple[bool, bool] | None:
    """(valid, ready) of the test index, None when there is none."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indisvalid, i.indisready FROM pg_index i"
            " JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = %s",
            [NAME],
        )
        row = cursor.fetchone()
    return None if row is None else (bool(row[0]), bool(row[1]))


def states(operation: AddIndexWithoutLocking) -> tuple[ProjectState, ProjectState]:
    before = MigrationExecutor(connection).loader.project_state()
    after = before.clone()
    operation.state_forwards("booking", after)
    return before, after


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_index_is_built_and_removed_concurrently_even_over_a_half_built_one() -> None:
    operation = AddIndexWithoutLocking(
        model_name="ledgerentry",
        index=models.Index(fields=["project", "created_at"], name=NAME),
    )
    before, after = states(operation)
    # What a build cut short leaves: an index of that name marked invalid.
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE INDEX {NAME} ON booking_ledgerentry (gpu_type_id)")
        cursor.execute(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = %s::regclass", [NAME]
        )
    assert index_state() == (False, True)
    try:
        with (
            CaptureQueriesContext(connection) as built,
            connection.schema_editor(atomic=False) as editor,
        ):
            operation.database_forwards("booking", editor, before, after)

        assert index_state() == (True, True)
        statements = [query["sql"] for query in built.captured_queries]
        assert any(f'CREATE INDEX CONCURRENTLY "{NAME}"' in sql for sql in statements)
        with (
            CaptureQueriesContext(connection) as removed,
            connection.schema_editor(atomic=False) as editor,
        ):
            operation.database_backwards("booking", editor, after, before)

        assert index_state() is None
        assert any("DROP INDEX CONCURRENTLY" in query["sql"] for query in removed.captured_queries)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX IF EXISTS {NAME}")
