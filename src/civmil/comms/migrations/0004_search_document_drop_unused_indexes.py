"""The search index drops two indexes no query uses, which every indexed record paid for on each
write (a bulk load of the demo's scale most of all):

- ``search_document_object`` on (object type, object id): the unique constraint on (object type,
  object id, field) begins with the same columns, and serves every lookup of an object's rows
  (reindexing one record, unindexing it, purging an erased change) as well;
- the index on ``space_id``: matching reaches rows through their words (FTS5, or the GIN index on
  PostgreSQL), then keeps those of the reader's space or of no space, which is nearly every row;
  no query looks rows up by space alone.

The second is dropped by its own statement: Django's SQLite schema editor would copy the table to
change the field, and the copy would lose the triggers that keep the FTS5 table in step
(migration 0002). Django names the index by a hash, so it is found by its column.
"""

from typing import Any

from django.db import migrations, models


def _space_indexes(schema_editor: Any, model: Any) -> list[str]:
    with schema_editor.connection.cursor() as cursor:
        constraints = schema_editor.connection.introspection.get_constraints(cursor, model._meta.db_table)
    return [name for name, info in constraints.items()
            if info["columns"] == ["space_id"] and info["index"] and not info["unique"] and not info["primary_key"]]


def drop_space_index(apps: Any, schema_editor: Any) -> None:
    model = apps.get_model("comms", "SearchDocument")
    for name in _space_indexes(schema_editor, model):
        schema_editor.execute(schema_editor._delete_index_sql(model, name))


def create_space_index(apps: Any, schema_editor: Any) -> None:
    model = apps.get_model("comms", "SearchDocument")
    if not _space_indexes(schema_editor, model):
        schema_editor.execute(schema_editor._create_index_sql(model, fields=[model._meta.get_field("space_id")]))


class Migration(migrations.Migration):

    dependencies = [
        ("comms", "0003_attachment_erased"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="searchdocument",
            name="search_document_object",
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="searchdocument",
                    name="space_id",
                    field=models.UUIDField(blank=True, default=None, null=True, verbose_name="space"),
                ),
            ],
            database_operations=[
                migrations.RunPython(drop_space_index, create_space_index, elidable=False),
            ],
        ),
    ]
