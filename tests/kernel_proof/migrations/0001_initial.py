import django.db.models.deletion
import uuid
from django.db import migrations, models

from civmil.core.spatial import SpatialIndex


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('core', '0013_audience'),
    ]

    operations = [
        migrations.CreateModel(
            name='Observation',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('level', models.CharField(choices=[('public', 'Public'), ('mission', 'Mission'), ('humanitarian', 'Humanitarian'), ('military', 'Military'), ('restricted', 'Restricted'), ('oversight', 'Oversight')], db_index=True, max_length=16, verbose_name='releasability')),
                ('created_at', models.DateTimeField(auto_now_add=True, db_index=True, verbose_name='created')),
                ('updated_at', models.DateTimeField(auto_now=True, verbose_name='updated')),
                ('version', models.PositiveIntegerField(default=1, verbose_name='version')),
                ('geometry', models.JSONField(blank=True, null=True, verbose_name='place (GeoJSON, WGS84)')),
                ('west', models.FloatField(blank=True, editable=False, null=True, verbose_name='west')),
                ('south', models.FloatField(blank=True, editable=False, null=True, verbose_name='south')),
                ('east', models.FloatField(blank=True, editable=False, null=True, verbose_name='east')),
                ('north', models.FloatField(blank=True, editable=False, null=True, verbose_name='north')),
                ('title', models.CharField(max_length=120, verbose_name='title')),
                ('summary', models.TextField(blank=True, verbose_name='summary')),
                ('source_notes', models.TextField(blank=True, verbose_name='source notes')),
                ('category', models.CharField(choices=[('roadblock', 'roadblock'), ('crowd', 'crowd'), ('damage', 'damage')], default='crowd', max_length=16, verbose_name='category')),
                ('observed_on', models.DateField(blank=True, null=True, verbose_name='observed on')),
                ('place_name', models.CharField(blank=True, max_length=200, verbose_name='place')),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.person', verbose_name='submitted by')),
                ('organisations', models.ManyToManyField(blank=True, related_name='+', to='core.organisation', verbose_name='organisations')),
                ('owner', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.organisation', verbose_name='owning organisation')),
                ('people', models.ManyToManyField(blank=True, related_name='+', to='core.person', verbose_name='people')),
                ('space', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.space', verbose_name='space')),
            ],
            options={
                'verbose_name': 'observation',
                'verbose_name_plural': 'observations',
                'constraints': [models.CheckConstraint(condition=models.Q(models.Q(('east__isnull', True), ('north__isnull', True), ('south__isnull', True), ('west__isnull', True)), models.Q(('east__lte', 180), ('north__lte', 90), ('south__gte', -90), ('south__lte', models.F('north')), ('west__gte', -180), ('west__lte', models.F('east'))), _connector='OR'), name='kernel_proof_observation_box_in_range')],
            },
        ),
        SpatialIndex("observation"),
    ]
