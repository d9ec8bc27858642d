"""Dates, numbers and e-mails in the reader's language (civmil.core.formats and docs/translation.md).

The e-mails of the notification centre are tested in tests/comms/test_notifications.py, the dates of
pages in tests/e2e/test_layout.py and tests/actors/test_liaison_views.py.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django import forms
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from civmil.core.choices import Component
from civmil.core.formats import grouped, megabytes, mission_datetime
from tests.factories import make_member


def test_numbers_are_written_as_the_language_writes_them() -> None:
    assert (megabytes(11 * 1024 * 1024), megabytes(2_621_440), grouped(20_000)) == ("11.0", "2.5", "20,000")
    with translation.override("fr"):
        assert (megabytes(11 * 1024 * 1024), megabytes(2_621_440), grouped(20_000)) == ("11,0", "2,5", "20\xa0000")


def test_a_time_without_a_zone_is_taken_as_utc_and_nothing_gives_nothing() -> None:
    zone = dt.timezone(dt.timedelta(hours=3), "EAT")
    assert mission_datetime(dt.datetime(2024, 12, 31, 22, 0), zone) == "1 January 2025, 01:00 EAT"
    assert mission_datetime(None, zone) == mission_datetime("", zone) == ""
    with translation.override("fr"):
        assert mission_datetime(dt.datetime(2024, 12, 31, 22, 0), zone, "time") == "01:00 EAT"


def test_date_fields_read_iso_and_french_dates_in_french() -> None:
    field = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    with translation.override("fr"):
        assert field.clean("2024-05-01") == field.clean("01/05/2024") == dt.date(2024, 5, 1)
        # <input type="date"> only takes an ISO value: a French "01/05/2024" would show an empty field.
        assert 'value="2024-05-01"' in field.widget.render("d", dt.date(2024, 5, 1))


@pytest.mark.django_db
def test_a_prefilled_date_field_keeps_its_iso_value_on_a_french_page(client: Client) -> None:
    m = make_member(Component.CIVILIAN)
    client.force_login(m.user)
    client.cookies["django_language"] = "fr"
    page = client.get(reverse("actors:assignment-new")).content.decode()
    assert '<html lang="fr"' in page
    value = re.search(r'name="starts_on"[^>]*value="([^"]*)"|value="([^"]*)"[^>]*name="starts_on"', page)
    assert value is not None
    assert (value.group(1) or value.group(2)) == timezone.localdate().isoformat()


@pytest.mark.django_db
@pytest.mark.parametrize(("language", "subject"), [
    ("en", "Password Reset Email"), ("fr", "E-mail de réinitialisation de mot de passe")])
def test_the_password_reset_email_is_in_the_language_of_the_request(language: str, subject: str) -> None:
    m = make_member(Component.HUMANITARIAN)
    client = Client()
    client.cookies["django_language"] = language
    assert client.post("/accounts/password/reset/", {"email": m.user.email}).status_code == 302
    assert len(mail.outbox) == 1 and mail.outbox[0].subject.endswith(subject)


@pytest.mark.django_db
def test_coordinates_keep_the_decimal_point_on_a_french_page(client: Client) -> None:
    from tests.actors.test_area_views import make_area, square

    area = make_area("Kaya", "BF1301", square(18.25, 4.5, 0.5))
    client.force_login(make_member(Component.CIVILIAN).user)
    client.cookies["django_language"] = "fr"
    page = client.get(reverse("actors:area", args=[area.pk])).content.decode()
    assert '<html lang="fr"' in page
    assert "18.2500, 4.5000, 18.7500, 5.0000" in page  # west, south, east, north
    assert "4,5000" not in page and "18,25" not in page
