"""The search index drops two indexes no query uses, which every indexed record paid for on each
write (a bulk load of the demo's scale most of all):

- ``search_document_object`` on (object type, object id): the unique constraint on (object type,
  object id, field) begins with the same columns, and serves every lookup of an object's rows
  (reindexing one record, unindexing it, purging an erased change) as well;
- the index on ``space_id``: matching reaches rows through their words (FTS5, or the GIN index on
  PostgreSQL), then keeps those of the reader's space or of no space, which is nearly every row;
  no query looks rows up by space alone.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("comms", "0003_attachment_erased"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="searchdocument",
            name="search_document_object",
        ),
        migrations.AlterField(
            model_name="searchdocument",
            name="space_id",
            field=models.UUIDField(blank=True, default=None, null=True, verbose_name="space"),
        ),
    ]
