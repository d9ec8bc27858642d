"""Personal API tokens (civmil.core.models.tokens)."""

import django.db.models.deletion
import django.utils.timezone
import uuid
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0004_outbox'),
    ]

    operations = [
        migrations.CreateModel(
            name='ApiToken',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('name', models.CharField(max_length=100, verbose_name='name')),
                ('scope', models.CharField(choices=[('read', 'Read only'), ('read_write', 'Read and write')], default='read', max_length=16, verbose_name='scope')),
                ('prefix', models.CharField(editable=False, max_length=16, verbose_name='token prefix')),
                ('digest', models.CharField(editable=False, max_length=64, unique=True, verbose_name='SHA-256 of the secret')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='created')),
                ('last_used_at', models.DateTimeField(blank=True, null=True, verbose_name='last used')),
                ('expires_at', models.DateTimeField(blank=True, null=True, verbose_name='expires')),
                ('revoked_at', models.DateTimeField(blank=True, null=True, verbose_name='revoked')),
                ('membership', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='api_tokens', to='core.membership', verbose_name='acts as')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='api_tokens', to=settings.AUTH_USER_MODEL, verbose_name='account')),
            ],
            options={
                'verbose_name': 'API token',
                'verbose_name_plural': 'API tokens',
                'ordering': ['-created_at'],
            },
        ),
    ]
