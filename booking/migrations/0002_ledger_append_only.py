"""On PostgreSQL the database itself refuses UPDATE and DELETE on ledger entries.

A row trigger binds every database user, superusers included (TRUNCATE, used only by test
database flushes, stays possible). Other databases rely on the ORM guards in the model.
"""

from django.db import migrations

FORBID = """
CREATE OR REPLACE FUNCTION booking_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'booking_ledgerentry is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER booking_ledger_append_only
    BEFORE UPDATE OR DELETE ON booking_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION booking_ledger_append_only();
"""
ALLOW = """
DROP TRIGGER IF EXISTS booking_ledger_append_only ON booking_ledgerentry;
DROP FUNCTION IF EXISTS booking_ledger_append_only();
"""


def forbid(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORBID, params=None)


def allow(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(ALLOW, params=None)


class Migration(migrations.Migration):
    dependencies = [("booking", "0001_initial")]
    operations = [migrations.RunPython(forbid, allow)]
