"""Edits through the record kernel's generic update (core.kernel.views.generic_update, behind the
edit page and PUT /api/v1/<type>/<id> of every type without its own) and its 409 answer
(core.kernel.api.stale_body): people on a record whom the editor may not see stay on it and are
never named."""

from __future__ import annotations

import json

import pytest

from civmil.actors import services
from civmil.actors.models import LiaisonLogEntry
from civmil.core import access, registry
from civmil.core import services as core_services
from civmil.core.choices import Component, Level
from civmil.core.errors import StaleEdit
from civmil.core.kernel.api import stale_body
from civmil.core.kernel.views import generic_update
from civmil.core.models import Person
from tests.api.conftest import record_entry
from tests.factories import Member, make_member, make_org

pytestmark = pytest.mark.django_db


def _hidden_person_on_an_entry(local: Member) -> tuple[Person, LiaisonLogEntry]:
    """An entry of ``local`` naming a person whose organisation then narrowed who may see them."""
    named = core_services.save_person(None, Person(full_name="Chief Okello", owner=make_org(Component.HOST_NATION),
                                                   level=Level.PUBLIC))
    entry = record_entry(local, level=Level.RESTRICTED, summary="Market day", person_ids=[named.pk])
    named.level = Level.RESTRICTED
    core_services.save_person(None, named)
    assert not access.visible(local.actor, Person.objects.filter(pk=named.pk)).exists()
    return named, entry


def _values(entry: LiaisonLogEntry, local: Member, summary: str) -> dict[str, object]:
    return {"occurred_at": entry.occurred_at, "channel": entry.channel, "organisations": [local.org],
            "people": [], "summary": summary, "follow_ups": "", "geometry": None,
            "place_name": "", "level": Level.RESTRICTED}


def test_the_generic_update_keeps_people_on_the_record_whom_the_editor_may_not_see() -> None:
    """The editor's form and body can only carry the people they may see (the API refuses
    others): a person named by someone else must not silently drop off the record, as the
    liaison log's own edit (actors.services.edit_liaison_contact) keeps them."""
    local = make_member(Component.HOST_NATION)
    named, entry = _hidden_person_on_an_entry(local)

    generic_update(registry.get(LiaisonLogEntry))(local.actor, entry.pk, entry.version,
                                                  _values(entry, local, "Market day, moved to Tuesday"))

    saved = LiaisonLogEntry.objects.get(pk=entry.pk)
    assert saved.summary == "Market day, moved to Tuesday"
    assert list(saved.people.values_list("pk", flat=True)) == [named.pk]


def test_the_stale_edit_answer_does_not_name_people_the_editor_may_not_see() -> None:
    """PUT with an old ``version``: the 409 body lists the people now on the record that the
    editor may see, never the id of one they may not."""
    local = make_member(Component.HOST_NATION)
    named, entry = _hidden_person_on_an_entry(local)
    seen = core_services.save_person(None, Person(full_name="Mama Rose", owner=local.org, level=Level.PUBLIC))
    services.edit_liaison_contact(local.actor, entry.pk, 1, services.LiaisonContact(
        occurred_at=entry.occurred_at, channel=entry.channel, summary="Market day (v2)", level=Level.RESTRICTED,
        organisation_ids=[local.org.pk], person_ids=[seen.pk]))

    with pytest.raises(StaleEdit) as raised:
        generic_update(registry.get(LiaisonLogEntry))(local.actor, entry.pk, 1, _values(entry, local, "Mine"))
    body = stale_body(local.actor, registry.get(LiaisonLogEntry), raised.value)
    assert body["current_version"] == 2
    assert str(named.pk) not in json.dumps(body, default=str)
    people = next(d for d in body["differences"] if d["field"] == "people")
    assert people["theirs"] == [str(seen.pk)] and people["yours"] == []
