"""A refused mention tells nothing: the same answer whether the person is unknown, hidden from
the author, or may not read the record (DESIGN.md, "Releasability": error messages are computed
from what the reader may see; issue 8, "Mention refusals").

The matrix rows at the end plant the records of the one hand-written table
(``tests/core/test_access_policy.py``) through ``plant_matrix`` and have each record's author
mention the reader: accepted exactly where the table gives the reader the full view (and the
reader has a membership), and everywhere else refused with the very answer an unknown id and a
hidden person get.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from django.test import Client

from civmil.comms.models import Message, Notification
from civmil.comms.queries import threads as thread_queries
from civmil.comms.services import threads as thread_services
from civmil.core import access, services
from civmil.core.acting import Actor
from civmil.core.choices import Component, Level, SpaceKind
from civmil.core.errors import Invalid
from civmil.core.models import Person, Space
from tests.comms.threads_support import ENTRY_TYPE, URLS, api_thread_url, make_entry, thread_url
from tests.conftest import count_access_cases
from tests.core.test_access_matrix import READERS, make_reader, plant_matrix
from tests.factories import Member, make_member, make_org

pytestmark = [pytest.mark.django_db, pytest.mark.urls(URLS)]

_CSRF = re.compile(rb'(name="csrfmiddlewaretoken" value=|name="csrf-token" content=)"[^"]*"')


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _exercise_person() -> Person:
    """A person of an exercise space: hidden from every reader of the live mission."""
    exercise = Space.objects.create(kind=SpaceKind.EXERCISE, name="Exercise")
    return services.save_person(None, Person(full_name=f"Ghost {uuid.uuid4().hex}", owner=make_org(Component.CIVILIAN),
                                             level=Level.MISSION), space=exercise)


def _refusal(actor: Actor, entry_pk: Any, mention: Any) -> tuple[str, dict[str, list[str]]] | None:
    """The service's refusal of a message mentioning ``mention`` (``None``: it was posted)."""
    try:
        thread_services.post_message(actor, ENTRY_TYPE, entry_pk, "Please look", [mention])
    except Invalid as exc:
        return exc.message, exc.errors
    return None


@pytest.fixture
def cast() -> dict[str, Any]:
    """A host-nation author on their organisation's RESTRICTED entry, and the people they may mention."""
    author = make_member(Component.HOST_NATION)
    entry = make_entry(author, level=Level.RESTRICTED)
    hidden = make_member(Component.CIVILIAN)  # contact level MISSION: host-nation users do not see them
    # Known to the author (PUBLIC), but may not read a RESTRICTED entry of another organisation.
    outsider = make_member(Component.CIVILIAN, contact_level=Level.PUBLIC)
    colleague = make_member(Component.HOST_NATION, org=author.org)
    assert not access.visible(author.actor, Person.objects.filter(pk=hidden.person.pk)).exists()
    assert access.visible(author.actor, Person.objects.filter(pk=outsider.person.pk)).exists()
    assert not thread_queries.person_may_discuss(outsider.person, entry)
    return {"author": author, "entry": entry, "hidden": hidden, "outsider": outsider, "colleague": colleague}


def _mentions(cast: dict[str, Any]) -> dict[str, str]:
    return {"unknown": str(uuid.uuid4()), "hidden": str(cast["hidden"].person.pk),
            "may not read": str(cast["outsider"].person.pk), "exercise": str(_exercise_person().pk)}


def test_the_service_refuses_every_mention_alike(cast: dict[str, Any]) -> None:
    author: Member = cast["author"]
    answers = {name: _refusal(author.actor, cast["entry"].pk, pk) for name, pk in _mentions(cast).items()}
    answers["not an id"] = _refusal(author.actor, cast["entry"].pk, "not-an-id")
    assert None not in answers.values()
    assert len(set(json.dumps(a) for a in answers.values())) == 1, answers
    message, _errors = answers["unknown"]  # type: ignore[misc]
    assert cast["outsider"].person.full_name not in message and "may not read" not in message
    assert not Message.objects.filter(body="Please look").exists() and not Notification.objects.exists()
    # The control: a colleague who may read the record is mentioned.
    assert _refusal(author.actor, cast["entry"].pk, cast["colleague"].person.pk) is None
    assert Notification.objects.get().recipient_id == cast["colleague"].person.pk


def test_the_api_and_the_page_answer_every_refused_mention_alike(cast: dict[str, Any]) -> None:
    client = _client(cast["author"].user)
    entry = cast["entry"]
    api, page = {}, {}
    for name, pk in _mentions(cast).items():
        response = client.post(f"{api_thread_url(entry)}/messages", json.dumps({"body": "hello", "mentions": [pk]}),
                               content_type="application/json")
        api[name] = (response.status_code, response.content)
        # The page's picker offers only people who may read the record; a mention written in the
        # text reaches the service, whose refusal is shown beside the form.
        response = client.post(thread_url(entry), {"body": f"see @[someone]({pk})"})
        page[name] = (response.status_code, _CSRF.sub(rb"\1-", response.content.replace(pk.encode(), b"<id>")))
    assert {status for status, _body in api.values()} == {422}
    assert len(set(api.values())) == 1, api
    assert {status for status, _body in page.values()} == {422}
    assert len(set(page.values())) == 1
    assert b"cannot be delivered" in page["hidden"][1]
    assert not Message.objects.exists()


# ---------------------------------------------------------------------------------------------
# Matrix rows: the author of each planted record mentions the reader


@pytest.mark.parametrize("profile", READERS)
def test_mention_refusals_follow_the_table_and_say_nothing(profile: str) -> None:
    reader = make_reader(profile)
    matrix = plant_matrix(reader)
    colleague = (make_member(Component(reader.actor.component), org=reader.actor.organisation).actor
                 if reader.actor.membership else None)
    ghost = _exercise_person()
    failures: list[str] = []
    clients: dict[Any, Client] = {}
    checks = 0
    for item in matrix.planted:
        poster = colleague if item.relation == "owner" else item.author
        assert poster is not None
        where = f"{item.relation}/{item.level}: expected {item.expected}"
        unknown = _refusal(poster, item.pk, uuid.uuid4())
        hidden = _refusal(poster, item.pk, ghost.pk)
        got = _refusal(poster, item.pk, reader.actor.person_id)
        checks += 1
        wanted = item.expected == "F" and reader.actor.membership is not None
        if unknown is None or hidden is None or unknown != hidden:
            failures.append(f"{where}: unknown and hidden people are answered {unknown} and {hidden}")
        if wanted:
            if got is not None:
                failures.append(f"{where}: the mention of the reader is refused: {got}")
            continue
        if got != unknown:
            failures.append(f"{where}: the refusal of the reader {got} differs from an unknown person's {unknown}")
        if poster.user_id not in clients:
            clients[poster.user_id] = _client(type(reader.user).objects.get(pk=poster.user_id))
        client = clients[poster.user_id]
        answers = {client.post(f"/api/v1/threads/{ENTRY_TYPE}/{item.pk}/messages",
                               json.dumps({"body": "hello", "mentions": [str(pk)]}),
                               content_type="application/json").content
                   for pk in (uuid.uuid4(), ghost.pk, reader.actor.person_id)}
        if len(answers) != 1:
            failures.append(f"{where}: the API answers the reader, an unknown and a hidden person differently")
    count_access_cases("mention refusals", checks)
    assert not failures, "\n".join(failures)
