"""Shared helpers of the thread and notification tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from civmil.actors import services as actor_services
from civmil.actors.models import LiaisonLogEntry
from civmil.core.choices import Level
from tests.factories import Member

ENTRY_TYPE = "actors.liaisonlogentry"
URLS = "tests.comms.threads_urls"


def make_entry(m: Member, level: str = Level.MISSION, summary: str = "Water point at Kaya") -> LiaisonLogEntry:
    return actor_services.record_liaison_contact(m.actor, actor_services.LiaisonContact(
        occurred_at=timezone.now() - dt.timedelta(hours=1), channel="meeting", summary=summary, level=level,
        organisation_ids=[m.org.pk]))


def thread_url(entry: Any) -> str:
    return f"/comms/threads/{ENTRY_TYPE}/{entry.pk}/"


def api_thread_url(entry: Any) -> str:
    return f"/api/v1/threads/{ENTRY_TYPE}/{entry.pk}"
