"""The liaison log's links to organisations and people (the many-to-many tables) drop their index
on the entry alone: each table's unique constraint on (entry, organisation) or (entry, person)
begins with the entry and serves every lookup by entry as well, so the second index only cost
each new link a write (a bulk load of the demo's scale most of all). The index on the
organisation or person stays (the reverse lookups).

Django names the dropped index by a hash and shortens it to each database's longest name, so
the index is found by its columns; going back creates it again as Django would.
"""

from typing import Any

from django.db import migrations

LINKS = ("organisations", "people")


def _entry_indexes(schema_editor: Any, through: Any, column: str) -> list[str]:
    with schema_editor.connection.cursor() as cursor:
        constraints = schema_editor.connection.introspection.get_constraints(cursor, through._meta.db_table)
    return [name for name, info in constraints.items()
            if info["columns"] == [column] and info["index"] and not info["unique"] and not info["primary_key"]]


def _links(apps: Any) -> list[tuple[Any, Any]]:
    entry = apps.get_model("actors", "LiaisonLogEntry")
    found = []
    for name in LINKS:
        field = entry._meta.get_field(name)
        through = field.remote_field.through
        found.append((through, through._meta.get_field(field.m2m_field_name())))
    return found


def drop(apps: Any, schema_editor: Any) -> None:
    for through, entry_field in _links(apps):
        for name in _entry_indexes(schema_editor, through, entry_field.column):
            schema_editor.execute(schema_editor._delete_index_sql(through, name))


def create(apps: Any, schema_editor: Any) -> None:
    for through, entry_field in _links(apps):
        if not _entry_indexes(schema_editor, through, entry_field.column):
            schema_editor.execute(schema_editor._create_index_sql(through, fields=[entry_field]))


class Migration(migrations.Migration):

    dependencies = [
        ("actors", "0006_liaison_entry_spatial_time"),
    ]

    operations = [
        migrations.RunPython(drop, create, elidable=False),
    ]
