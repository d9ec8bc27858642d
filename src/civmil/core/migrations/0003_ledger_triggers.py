"""The database refuses to alter the ledger (DESIGN.md, "Ledger").

UPDATE and DELETE (and TRUNCATE on PostgreSQL) are refused on core_ledgerentry and
core_checkpoint, DELETE on core_ledgerchange, and UPDATE on core_ledgerchange except the one
erasure: ``data`` set to NULL and ``erased_by_seq`` set, once, to a ``ledger.erased`` entry that
names the erased entry. No setting turns these off.
"""

from django.db import migrations

SQLITE_FORWARD = [
    """CREATE TRIGGER civmil_ledger_entry_no_update BEFORE UPDATE ON core_ledgerentry
    BEGIN SELECT RAISE(ABORT, 'civmil ledger is append-only: UPDATE on core_ledgerentry refused'); END""",
    """CREATE TRIGGER civmil_ledger_entry_no_delete BEFORE DELETE ON core_ledgerentry
    BEGIN SELECT RAISE(ABORT, 'civmil ledger is append-only: DELETE on core_ledgerentry refused'); END""",
    """CREATE TRIGGER civmil_ledger_checkpoint_no_update BEFORE UPDATE ON core_checkpoint
    BEGIN SELECT RAISE(ABORT, 'civmil ledger is append-only: UPDATE on core_checkpoint refused'); END""",
    """CREATE TRIGGER civmil_ledger_checkpoint_no_delete BEFORE DELETE ON core_checkpoint
    BEGIN SELECT RAISE(ABORT, 'civmil ledger is append-only: DELETE on core_checkpoint refused'); END""",
    """CREATE TRIGGER civmil_ledger_change_no_delete BEFORE DELETE ON core_ledgerchange
    BEGIN SELECT RAISE(ABORT, 'civmil ledger is append-only: DELETE on core_ledgerchange refused'); END""",
    """CREATE TRIGGER civmil_ledger_change_erase_only BEFORE UPDATE ON core_ledgerchange
    WHEN NOT (
        NEW.seq = OLD.seq
        AND OLD.erased_by_seq IS NULL
        AND NEW.erased_by_seq IS NOT NULL
        AND NEW.data IS NULL
        AND EXISTS (
            SELECT 1 FROM core_ledgerentry e
            WHERE e.seq = NEW.erased_by_seq AND e.seq > OLD.seq
              AND e.action = 'ledger.erased' AND e.object_type = 'core.ledgerchange'
              AND e.object_id = CAST(OLD.seq AS TEXT)
        )
    )
    BEGIN SELECT RAISE(ABORT, 'civmil ledger is append-only: only erasure may UPDATE core_ledgerchange'); END""",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS civmil_ledger_entry_no_update",
    "DROP TRIGGER IF EXISTS civmil_ledger_entry_no_delete",
    "DROP TRIGGER IF EXISTS civmil_ledger_checkpoint_no_update",
    "DROP TRIGGER IF EXISTS civmil_ledger_checkpoint_no_delete",
    "DROP TRIGGER IF EXISTS civmil_ledger_change_no_delete",
    "DROP TRIGGER IF EXISTS civmil_ledger_change_erase_only",
]

# SQLSTATE 23000 (integrity_constraint_violation): Django raises IntegrityError, as on SQLite.
POSTGRESQL_FORWARD = [
    """CREATE FUNCTION civmil_ledger_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'civmil ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END $$""",
    """CREATE FUNCTION civmil_ledger_change_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE'
           AND NEW.seq = OLD.seq
           AND OLD.erased_by_seq IS NULL
           AND NEW.erased_by_seq IS NOT NULL
           AND NEW.data IS NULL
           AND EXISTS (
               SELECT 1 FROM core_ledgerentry e
               WHERE e.seq = NEW.erased_by_seq AND e.seq > OLD.seq
                 AND e.action = 'ledger.erased' AND e.object_type = 'core.ledgerchange'
                 AND e.object_id = OLD.seq::text
           ) THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'civmil ledger is append-only: only erasure may UPDATE core_ledgerchange (% refused)', TG_OP
            USING ERRCODE = 'integrity_constraint_violation';
    END $$""",
    """CREATE TRIGGER civmil_ledger_entry_append_only BEFORE UPDATE OR DELETE ON core_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION civmil_ledger_refuse()""",
    """CREATE TRIGGER civmil_ledger_entry_no_truncate BEFORE TRUNCATE ON core_ledgerentry
    FOR EACH STATEMENT EXECUTE FUNCTION civmil_ledger_refuse()""",
    """CREATE TRIGGER civmil_ledger_checkpoint_append_only BEFORE UPDATE OR DELETE ON core_checkpoint
    FOR EACH ROW EXECUTE FUNCTION civmil_ledger_refuse()""",
    """CREATE TRIGGER civmil_ledger_checkpoint_no_truncate BEFORE TRUNCATE ON core_checkpoint
    FOR EACH STATEMENT EXECUTE FUNCTION civmil_ledger_refuse()""",
    """CREATE TRIGGER civmil_ledger_change_erase_only BEFORE UPDATE OR DELETE ON core_ledgerchange
    FOR EACH ROW EXECUTE FUNCTION civmil_ledger_change_guard()""",
    """CREATE TRIGGER civmil_ledger_change_no_truncate BEFORE TRUNCATE ON core_ledgerchange
    FOR EACH STATEMENT EXECUTE FUNCTION civmil_ledger_refuse()""",
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS civmil_ledger_entry_append_only ON core_ledgerentry",
    "DROP TRIGGER IF EXISTS civmil_ledger_entry_no_truncate ON core_ledgerentry",
    "DROP TRIGGER IF EXISTS civmil_ledger_checkpoint_append_only ON core_checkpoint",
    "DROP TRIGGER IF EXISTS civmil_ledger_checkpoint_no_truncate ON core_checkpoint",
    "DROP TRIGGER IF EXISTS civmil_ledger_change_erase_only ON core_ledgerchange",
    "DROP TRIGGER IF EXISTS civmil_ledger_change_no_truncate ON core_ledgerchange",
    "DROP FUNCTION IF EXISTS civmil_ledger_change_guard()",
    "DROP FUNCTION IF EXISTS civmil_ledger_refuse()",
]

STATEMENTS = {
    "sqlite": (SQLITE_FORWARD, SQLITE_REVERSE),
    "postgresql": (POSTGRESQL_FORWARD, POSTGRESQL_REVERSE),
}


def _run(schema_editor, forward):
    vendor = schema_editor.connection.vendor
    if vendor not in STATEMENTS:
        raise RuntimeError(f"civmil's ledger triggers exist for SQLite and PostgreSQL only, not {vendor}")
    for sql in STATEMENTS[vendor][0 if forward else 1]:
        schema_editor.execute(sql, params=None)


def install(apps, schema_editor):
    _run(schema_editor, forward=True)


def remove(apps, schema_editor):
    _run(schema_editor, forward=False)


class Migration(migrations.Migration):
    dependencies = [("core", "0002_live_space")]
    operations = [migrations.RunPython(install, remove)]
