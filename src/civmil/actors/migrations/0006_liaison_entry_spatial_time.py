"""The liaison log's spatial index gets a time dimension, when the contact occurred: the R*Tree
(SQLite) is built again on (west..east, south..north, occurred_at..occurred_at), the GiST index
(PostgreSQL) on the box and ``tstzrange(occurred_at, occurred_at, '[]')``, so that a map's box and
time window narrow the log in one probe (docs/decisions/0007-spatial-index.md)."""

from django.db import migrations

import civmil.core.spatial


class Migration(migrations.Migration):

    dependencies = [
        ('actors', '0005_area_placed'),
    ]

    operations = [
        civmil.core.spatial.DropSpatialIndex('LiaisonLogEntry'),
        civmil.core.spatial.SpatialIndex('LiaisonLogEntry', time=('occurred_at',)),
    ]
