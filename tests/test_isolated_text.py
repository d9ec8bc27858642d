"""User text keeps its own direction: names in headings, also inside translated sentences, are
isolated (a right-to-left override in a name does not flip the words around it), and stay escaped."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.test import Client
from django.urls import reverse

from civmil.core import services
from civmil.core.choices import Component, Role
from tests.factories import make_member

pytestmark = pytest.mark.django_db

RLO = "\u202e"


def test_the_isolated_filter_escapes_and_isolates() -> None:
    out = Template("{% load i18n civmil %}{% blocktranslate with name=n|isolated %}Welcome, {{ name }}"
                   "{% endblocktranslate %}").render(Context({"n": f"<b>{RLO}evil</b>"}))
    assert out == f"Welcome, <bdi>&lt;b&gt;{RLO}evil&lt;/b&gt;</bdi>"


def test_names_in_headings_are_isolated() -> None:
    admin = make_member(Component.CIVILIAN, role=Role.ADMINISTRATOR)
    other = make_member(Component.CIVILIAN, org=admin.org)
    other.person.full_name = f"Amina {RLO}olleh"
    services.save_person(None, other.person)
    client = Client()
    client.force_login(admin.user)
    person_page = client.get(reverse("actors:person", args=[other.person.pk])).content.decode()
    assert f"<h1><bdi>Amina {RLO}olleh</bdi>" in person_page
    client.force_login(other.user)
    home = client.get("/").content.decode()
    assert f"<bdi>Amina {RLO}olleh</bdi>" in home
