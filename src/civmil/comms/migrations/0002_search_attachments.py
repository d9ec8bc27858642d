"""Search index and attachments.

The full-text structure depends on the database vendor: an FTS5 external-content table kept in
step by triggers on SQLite; a GIN expression index over ``to_tsvector('simple', terms)`` on
PostgreSQL. Both are rebuilt from ``comms_searchdocument`` (``civmil reindex`` refills that).
"""

import uuid

import django.db.models.deletion
from django.db import migrations, models

SQLITE_UP = [
    "CREATE VIRTUAL TABLE comms_search_fts USING fts5(body, content='comms_searchdocument', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER comms_search_ai AFTER INSERT ON comms_searchdocument BEGIN "
    "INSERT INTO comms_search_fts(rowid, body) VALUES (new.id, new.body); END",
    "CREATE TRIGGER comms_search_ad AFTER DELETE ON comms_searchdocument BEGIN "
    "INSERT INTO comms_search_fts(comms_search_fts, rowid, body) VALUES ('delete', old.id, old.body); END",
    "CREATE TRIGGER comms_search_au AFTER UPDATE ON comms_searchdocument BEGIN "
    "INSERT INTO comms_search_fts(comms_search_fts, rowid, body) VALUES ('delete', old.id, old.body); "
    "INSERT INTO comms_search_fts(rowid, body) VALUES (new.id, new.body); END",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS comms_search_au",
    "DROP TRIGGER IF EXISTS comms_search_ad",
    "DROP TRIGGER IF EXISTS comms_search_ai",
    "DROP TABLE IF EXISTS comms_search_fts",
]
POSTGRES_UP = [
    "CREATE INDEX comms_search_tsv ON comms_searchdocument USING GIN (to_tsvector('simple', terms))",
]
POSTGRES_DOWN = ["DROP INDEX IF EXISTS comms_search_tsv"]


def _run(statements: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)
    return run


class Migration(migrations.Migration):

    dependencies = [
        ('comms', '0001_initial'),
        ('core', '0004_outbox'),
    ]

    operations = [
        migrations.CreateModel(
            name='SearchDocument',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('object_type', models.CharField(max_length=64, verbose_name='object type')),
                ('object_id', models.CharField(max_length=64, verbose_name='object id')),
                ('field', models.CharField(max_length=64, verbose_name='field')),
                ('space_id', models.UUIDField(blank=True, db_index=True, default=None, null=True, verbose_name='space')),
                ('body', models.TextField(verbose_name='text')),
                ('terms', models.TextField(default='', verbose_name='search terms')),
                ('indexed_at', models.DateTimeField(auto_now=True, verbose_name='indexed')),
            ],
            options={
                'verbose_name': 'search document',
                'verbose_name_plural': 'search documents',
                'indexes': [models.Index(fields=['object_type', 'object_id'], name='search_document_object')],
                'constraints': [models.UniqueConstraint(fields=('object_type', 'object_id', 'field'), name='search_document_unique')],
            },
        ),
        migrations.CreateModel(
            name='Attachment',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('object_type', models.CharField(max_length=64, verbose_name='object type')),
                ('object_id', models.UUIDField(verbose_name='object id')),
                ('filename', models.CharField(max_length=200, verbose_name='file name')),
                ('media_type', models.CharField(max_length=64, verbose_name='media type')),
                ('size', models.PositiveBigIntegerField(verbose_name='size in bytes')),
                ('sha256', models.CharField(max_length=64, verbose_name='SHA-256')),
                ('storage_name', models.CharField(editable=False, max_length=64, unique=True)),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='uploaded')),
                ('space', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.space', verbose_name='space')),
                ('uploaded_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.person', verbose_name='uploaded by')),
            ],
            options={
                'verbose_name': 'attachment',
                'verbose_name_plural': 'attachments',
                'ordering': ['created_at', 'id'],
                'indexes': [models.Index(fields=['object_type', 'object_id'], name='attachment_object')],
            },
        ),
        migrations.RunPython(
            _run({"sqlite": SQLITE_UP, "postgresql": POSTGRES_UP}),
            _run({"sqlite": SQLITE_DOWN, "postgresql": POSTGRES_DOWN}),
        ),
    ]
