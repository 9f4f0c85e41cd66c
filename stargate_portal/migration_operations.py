"""Migration operations for a live database.

``AddIndexWithoutLocking`` builds an index on PostgreSQL with ``CREATE INDEX CONCURRENTLY``,
so a big table (the ledger, the jobs) keeps taking writes while the index is built during a
rolling upgrade; elsewhere (SQLite, the embedded default) it is Django's ``AddIndex``. A
migration using it must say ``atomic = False``: PostgreSQL builds such an index outside a
transaction. A build that failed half-way leaves an invalid index and the migration unapplied;
the next run drops that index first and builds it again.
"""

from typing import Any

from django.db import migrations


class AddIndexWithoutLocking(migrations.AddIndex):
    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
            return
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        # The name is the migration's own constant, never input.
        schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{self.index.name}"')
        schema_editor.add_index(model, self.index, concurrently=True)

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
            return
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.remove_index(model, self.index, concurrently=True)

    def describe(self) -> str:
        return f"{super().describe()} (concurrently on PostgreSQL)"
