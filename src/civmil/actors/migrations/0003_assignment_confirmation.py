"""Liaison assignments get a status: an officer is assigned by their own organisation, or with its
confirmation. Existing assignments recorded by an organisation the officer never belonged to wait
for that confirmation (pending); the others stand confirmed."""

import django.db.models.deletion
from django.db import migrations, models


def _pending_where_not_their_own(apps, schema_editor):  # type: ignore[no-untyped-def]
    LiaisonAssignment = apps.get_model("actors", "LiaisonAssignment")
    Membership = apps.get_model("core", "Membership")
    for assignment in LiaisonAssignment.objects.all().iterator():
        own = Membership.objects.filter(person_id=assignment.officer_id,
                                        organisation_id=assignment.from_organisation_id).exists()
        if not own:
            LiaisonAssignment.objects.filter(pk=assignment.pk).update(status="pending")


class Migration(migrations.Migration):

    dependencies = [
        ('actors', '0002_initial'),
        ('core', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='liaisonassignment',
            name='decided_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='confirmed or refused at'),
        ),
        migrations.AddField(
            model_name='liaisonassignment',
            name='decided_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT,
                                    related_name='+', to='core.person', verbose_name='confirmed or refused by'),
        ),
        migrations.AddField(
            model_name='liaisonassignment',
            name='decision_reason',
            field=models.TextField(blank=True, max_length=2000, verbose_name='reason given'),
        ),
        migrations.AddField(
            model_name='liaisonassignment',
            name='status',
            field=models.CharField(choices=[('confirmed', 'Confirmed'),
                                            ('pending', "Waiting for the officer's organisation"),
                                            ('refused', "Refused by the officer's organisation")],
                                   db_index=True, default='confirmed', max_length=16, verbose_name='status'),
        ),
        migrations.RunPython(_pending_where_not_their_own, migrations.RunPython.noop),
    ]
