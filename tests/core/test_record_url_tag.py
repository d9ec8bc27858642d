"""``{% record_url %}`` and ``|display`` give what ``{% url %}`` and ``get_FOO_display`` give."""

from __future__ import annotations

import uuid

from django.template import engines


def test_record_url_gives_what_url_gives() -> None:
    pk = uuid.uuid4()
    template = engines["django"].from_string(
        "{% load civmil %}{% url 'actors:organisation' pk %}|{% record_url 'actors:organisation' pk %}|"
        "{% url 'actors:person' pk %}|{% record_url 'actors:person' pk %}")
    first, second, third, fourth = template.render({"pk": pk}).split("|")
    assert first == second == f"/directory/organisations/{pk}/"
    assert third == fourth


def test_display_gives_what_get_display_gives_in_each_language() -> None:
    from django.utils import translation

    from civmil.core.choices import Component, Role
    from civmil.core.models import Membership, Organisation

    template = engines["django"].from_string(
        '{% load civmil %}{{ org|display:"component" }}|{{ org.get_component_display }}|'
        '{{ m|display:"role" }}|{{ m.get_role_display }}')
    for language in ("en", "fr"):
        with translation.override(language):
            for component in Component.values:
                org = Organisation(component=component)
                for role in (*Role.values, "unknown-role"):
                    first, second, third, fourth = template.render({"org": org, "m": Membership(role=role)}).split("|")
                    assert first == second and third == fourth
