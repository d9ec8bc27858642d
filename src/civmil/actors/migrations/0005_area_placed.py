"""Areas move onto core's Placed base: their box columns min_lon/min_lat/max_lon/max_lat become
west/south/east/north (renamed, values kept), without the b-tree index on each column, with the
box constraint and the spatial index (R*Tree on SQLite, GiST on PostgreSQL) instead."""

from django.db import migrations, models

import civmil.core.spatial

RENAMES = (("min_lon", "west"), ("min_lat", "south"), ("max_lon", "east"), ("max_lat", "north"))


class Migration(migrations.Migration):

    dependencies = [
        ('actors', '0004_liaison_entry_placed'),
    ]

    operations = [
        *(migrations.RenameField(model_name='area', old_name=old, new_name=new) for old, new in RENAMES),
        *(migrations.AlterField(
            model_name='area', name=new,
            field=models.FloatField(blank=True, editable=False, null=True, verbose_name=new),
        ) for _old, new in RENAMES),
        migrations.AddConstraint(
            model_name='area',
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(('east__isnull', True), ('north__isnull', True), ('south__isnull', True),
                             ('west__isnull', True)),
                    models.Q(('east__lte', 180), ('north__lte', 90), ('south__gte', -90), ('south__lte', models.F('north')),
                             ('west__gte', -180), ('west__lte', models.F('east'))),
                    _connector='OR'),
                name='actors_area_box_in_range'),
        ),
        civmil.core.spatial.SpatialIndex('Area'),
    ]
