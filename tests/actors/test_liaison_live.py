"""The liaison log pages carry what the live client needs, and their fragments follow the policy."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from civmil.actors import services as actor_services
from civmil.core import events
from civmil.core.choices import Component, Level
from tests.factories import make_member

pytestmark = pytest.mark.django_db


def _entry(author, level: str, summary: str):  # type: ignore[no-untyped-def]
    return actor_services.record_liaison_contact(author.actor, actor_services.LiaisonContact(
        occurred_at=timezone.now(), channel="meeting", summary=summary, level=level,
        organisation_ids=[author.org.pk]))


def test_list_and_detail_subscribe_to_the_liaison_stream(client) -> None:  # type: ignore[no-untyped-def]
    civ = make_member(Component.CIVILIAN)
    entry = _entry(civ, Level.MISSION, "live-marker")
    client.force_login(civ.user)
    page = client.get(reverse("actors:liaison-log")).content.decode()
    assert 'data-live-stream="actors.liaisonlogentry"' in page
    assert f'data-live-after="{events.last_id()}"' in page
    assert f'data-live-id="{entry.pk}"' in page
    detail = client.get(reverse("actors:liaison-entry", args=[entry.pk])).content.decode()
    assert f'data-live-object="{entry.pk}"' in detail and "live-marker" in detail


def test_row_and_card_fragments_follow_the_policy(client) -> None:  # type: ignore[no-untyped-def]
    ngo = make_member(Component.HUMANITARIAN)
    soldier = make_member(Component.MILITARY)
    entry = _entry(ngo, Level.HUMANITARIAN, "hum-live-marker")
    client.force_login(ngo.user)
    for name in ("actors:liaison-row", "actors:liaison-card"):
        response = client.get(reverse(name, args=[entry.pk]))
        assert response.status_code == 200 and b"hum-live-marker" in response.content
        assert f'data-live-id="{entry.pk}"'.encode() in response.content
    client.force_login(soldier.user)
    for name in ("actors:liaison-row", "actors:liaison-card"):
        response = client.get(reverse(name, args=[entry.pk]))
        assert response.status_code == 404 and b"hum-live-marker" not in response.content


def test_recording_an_entry_publishes_one_event() -> None:
    civ = make_member(Component.CIVILIAN)
    before = events.last_id()
    entry = _entry(civ, Level.MISSION, "x")
    from civmil.core.models import OutboxEvent

    published = list(OutboxEvent.objects.filter(id__gt=before))
    assert [(e.kind, e.object_id) for e in published] == [("liaison.recorded", str(entry.pk))]


def test_a_filtered_list_only_gains_rows_that_match_its_filters(client) -> None:  # type: ignore[no-untyped-def]
    civ = make_member(Component.CIVILIAN)
    meeting = _entry(civ, Level.MISSION, "water point meeting")
    other = _entry(civ, Level.MISSION, "road repair")
    client.force_login(civ.user)
    page = client.get(reverse("actors:liaison-log"), {"q": "water"}).content.decode()
    template = reverse("actors:liaison-row", args=["00000000-0000-0000-0000-000000000000"])
    assert f'data-live-row-url-template="{template}?q=water"' in page
    matching = client.get(reverse("actors:liaison-row", args=[meeting.pk]), {"q": "water"})
    assert matching.status_code == 200 and b"water point meeting" in matching.content
    outside = client.get(reverse("actors:liaison-row", args=[other.pk]), {"q": "water"})
    assert outside.status_code == 204 and outside.content == b""
    # Without filters every visible row answers; broken filters match nothing.
    assert client.get(reverse("actors:liaison-row", args=[other.pk])).status_code == 200
    assert client.get(reverse("actors:liaison-row", args=[other.pk]), {"since": "not a date"}).status_code == 204
