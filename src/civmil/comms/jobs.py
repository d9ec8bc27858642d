"""Periodic jobs of the comms app (registered with civmil.core.schedule in AppConfig.ready)."""

from __future__ import annotations

import datetime as dt

from django_tasks import task

from civmil.core import schedule


@task()
def daily_digests() -> int:
    """Send the day's notification digests; idempotent per person and day."""
    from civmil.comms.services.notifications import send_daily_digests

    return send_daily_digests()


def register() -> None:
    schedule.register_periodic("comms.daily_digests", daily_digests, dt.timedelta(hours=1))
