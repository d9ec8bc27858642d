"""The language a person chooses follows them to another device, and is ledgered."""

from __future__ import annotations

import pytest
from django.test import Client

from civmil.core.choices import Component
from civmil.core.models import LedgerEntry
from tests.factories import make_member

pytestmark = pytest.mark.django_db


def test_the_chosen_language_follows_the_person() -> None:
    m = make_member(Component.HUMANITARIAN)
    laptop = Client()
    laptop.force_login(m.user)
    response = laptop.post("/core/language/", {"language": "fr", "next": "/"})
    assert response.status_code == 302
    m.user.refresh_from_db()
    assert m.user.language == "fr"
    assert LedgerEntry.objects.filter(action="account.language", object_id=str(m.user.pk)).exists()
    phone = Client()  # another device: no language cookie
    phone.force_login(m.user)
    assert b'<html lang="fr"' in phone.get("/").content
    anonymous = Client()
    assert b'<html lang="en"' in anonymous.get("/accounts/login/").content


def test_an_unknown_language_is_refused_with_a_message() -> None:
    m = make_member(Component.CIVILIAN)
    client = Client()
    client.force_login(m.user)
    client.post("/core/language/", {"language": "xx", "next": "/"})
    m.user.refresh_from_db()
    assert m.user.language == ""
