"""The mission's time zone as pages name it: a label people recognise, never ``Etc/GMT-2``."""

from __future__ import annotations

import datetime as dt

import pytest
from django.template import engines
from django.test import Client, RequestFactory

from civmil.core import services
from civmil.core.models import MissionSettings
from civmil.core.models.spaces import LIVE_SPACE_ID
from civmil.core.pages import mission_tz
from civmil.core.templatetags import civmil as civmil_tags
from civmil.core.zones import MissionZone, mission_zone, offset_label
from tests.factories import make_member

MOMENT = dt.datetime(2025, 3, 1, 11, 5, tzinfo=dt.UTC)


def _shown(time_zone: str, label: str = "", moment: dt.datetime = MOMENT) -> str:
    """A stored time as a page writes it, with these mission settings."""
    MissionSettings.objects.filter(space_id=LIVE_SPACE_ID).update(time_zone=time_zone, time_zone_label=label)
    services._forget_settings()
    civmil_tags._forget_zones()
    request = RequestFactory().get("/")
    return engines["django"].from_string(
        "{% load civmil %}{% mission_time_zone %}{{ t|mission_time }}|{% mission_zone_name %}{% endmission_time_zone %}"
    ).render({"t": moment, "request": request}, request)


def test_offsets_are_written_as_people_read_them() -> None:
    assert offset_label(dt.timedelta(0)) == "UTC"
    assert offset_label(dt.timedelta(hours=2)) == "UTC+2"
    assert offset_label(dt.timedelta(hours=-3)) == "UTC-3"
    assert offset_label(dt.timedelta(hours=5, minutes=45)) == "UTC+5:45"


@pytest.mark.django_db
def test_an_etc_zone_is_named_by_its_offset_not_its_inverted_name() -> None:
    """``Etc/GMT-2`` means UTC+2; its abbreviation is "+02" and its name reads as UTC-2."""
    shown = _shown("Etc/GMT-2")
    assert shown == "1 March 2025, 13:05 UTC+2|UTC+2"
    assert "GMT" not in shown and "+02" not in shown


@pytest.mark.django_db
def test_a_zone_with_a_known_abbreviation_keeps_it_and_the_note_names_the_place() -> None:
    assert _shown("Africa/Juba") == "1 March 2025, 13:05 CAT|CAT, UTC+2, Africa/Juba"
    assert _shown("Asia/Kathmandu").startswith("1 March 2025, 16:50 UTC+5:45|")


@pytest.mark.django_db
def test_the_mission_settings_choose_the_label() -> None:
    assert _shown("Africa/Juba", "Juba time") == "1 March 2025, 13:05 Juba time|Juba time, UTC+2, Africa/Juba"


@pytest.mark.django_db
def test_a_labelled_zone_keeps_the_zone_s_summer_time() -> None:
    summer = dt.datetime(2025, 7, 1, 11, 5, tzinfo=dt.UTC)
    # Each time in its own offset; the note gives the offset of today.
    assert _shown("Europe/Paris", "Paris time", summer).startswith("1 July 2025, 13:05 Paris time|Paris time, UTC+")
    assert _shown("Europe/Paris", "Paris time").startswith("1 March 2025, 12:05 Paris time|Paris time, UTC+")
    zone = mission_zone("Europe/Paris", "Paris time")
    # A local time read from a form is stored as the right instant, either side of the change.
    assert dt.datetime(2025, 7, 1, 13, 5, tzinfo=zone).astimezone(dt.UTC).hour == 11
    assert dt.datetime(2025, 1, 1, 13, 5, tzinfo=zone).astimezone(dt.UTC).hour == 12
    assert mission_zone("Not/AZone") == MissionZone("UTC")


@pytest.mark.django_db
def test_forms_read_times_in_the_labelled_zone() -> None:
    """The liaison form's time is read in the mission zone, whatever it is called."""
    from django.urls import reverse

    from civmil.actors.models import LiaisonLogEntry

    MissionSettings.objects.filter(space_id=LIVE_SPACE_ID).update(time_zone="Etc/GMT-2", time_zone_label="Base time")
    services._forget_settings()
    member = make_member()
    assert str(mission_tz(member.actor)) == "Base time, UTC+2"
    client = Client()
    client.force_login(member.user)
    response = client.post(reverse("actors:liaison-new"), {
        "occurred_at": "2025-03-01T13:05", "channel": "meeting", "organisations": [str(member.org.pk)],
        "summary": "Water point", "level": "mission", "geometry": "", "geometry_location": "", "place_name": ""})
    assert response.status_code == 302, response.content[:2000]
    entry = LiaisonLogEntry.objects.get()
    assert entry.occurred_at == MOMENT
    page = client.get(reverse("actors:liaison-entry", args=[entry.pk])).content.decode()
    assert "13:05 Base time" in page and "Etc/GMT" not in page
