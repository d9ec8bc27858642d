"""``{% record_url %}`` gives the same address as ``{% url %}`` for a record's page."""

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
