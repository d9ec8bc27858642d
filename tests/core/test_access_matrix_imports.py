"""The access matrix on import dry runs: a row that matches a person the importer may not see
(or whose e-mail they may not see) answers exactly as a row of a new person.

A people file is matched against the directory by e-mail, a contact field. For each importing
administrator profile of the hand-written table (``tests/core/test_access_policy.py``), a person
is planted at every contact level, owned by another organisation ("none") or by the importer's
own ("owner"). A person's contact level is the level of their contact details: the table's cell
for the (relation, level) is "F" exactly where the importer's view shows the e-mail. Then two
files are dry-run through the page, each with one row of the same new name and organisation: one
with the planted person's e-mail, one with an e-mail nobody has.

* "F": the first row updates the planted person (the report says so, and differs);
* anything less: the two reports are byte-identical once the upload id and the CSRF token are
  left out (same text, same counts), and confirming creates a new person, answered alike.

A person of an exercise space (hidden from every reader of the live mission) is planted too.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from civmil.actors import directory_csv
from civmil.actors.views import directory_csv as csv_views
from civmil.core import access, services
from civmil.core.acting import Actor
from civmil.core.choices import Component, Level, Role, SpaceKind
from civmil.core.models import LedgerEntry, Organisation, Person, Space
from tests.conftest import count_access_cases
from tests.core.test_access_matrix import READERS, _client, make_reader
from tests.core.test_access_policy import EXPECTED, LEVELS, OWNER_COMPONENT, PROFILES
from tests.factories import make_member, make_org

pytestmark = pytest.mark.django_db

#: The reader profiles that import the directory (administrators only).
IMPORTERS = [p for p in READERS if PROFILES[p] is not None and PROFILES[p][1] == Role.ADMINISTRATOR]  # type: ignore[index]
PERSON_LEVELS = [Level.PUBLIC, Level.MISSION, Level.HUMANITARIAN, Level.MILITARY, Level.RESTRICTED]
HEADER = "full_name,title,email,phone,radio_call_sign,messaging,languages,organisation,role,position,contact_level\n"
_VOLATILE = re.compile(rb"[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{22}|"
                       rb'(?<=name="csrfmiddlewaretoken" value=")[^"]*|(?<=name="csrf-token" content=")[^"]*')


@pytest.fixture(autouse=True)
def _staging_dir(settings: Any, tmp_path: Path) -> None:
    settings.CIVMIL_VAR_DIR = tmp_path


def _cell(relation: str, profile: str, level: str) -> str:
    return EXPECTED[relation][profile].split()[LEVELS.index(level)]


def _row(name: str, email: str, organisation: Organisation) -> bytes:
    return (HEADER + f"{name},,{email},,,,,{organisation.name},,,\n").encode()


def _dry_run(client: Client, data: bytes) -> tuple[int, bytes]:
    """The dry-run page of ``data``, without what differs on every upload (its id, the CSRF token)."""
    response = client.post(reverse("actors:directory-import"), {
        "step": "upload", "kind": directory_csv.PEOPLE, "file": SimpleUploadedFile("people.csv", data, "text/csv")})
    return response.status_code, _VOLATILE.sub(b"-", response.content)


def _confirm(client: Client) -> tuple[int, str, list[str]]:
    token = client.session[csv_views.SESSION_KEY]["token"]
    response = client.post(reverse("actors:directory-import"), {"step": "confirm", "token": token})
    shown = [str(m) for m in response.wsgi_request._messages]  # type: ignore[attr-defined]
    return response.status_code, response.get("Location", ""), shown


def _plant(owner: Organisation, level: str, space: Space | None = None) -> Person:
    return services.save_person(None, Person(full_name=f"Stored {uuid.uuid4().hex[:8]}", owner=owner, level=level,
                                             email=f"{uuid.uuid4().hex}@stored.example"), space=space)


@pytest.mark.parametrize("profile", IMPORTERS)
def test_a_dry_run_tells_a_hidden_person_from_a_new_one_only_where_the_table_shows_the_email(profile: str) -> None:
    reader = make_reader(profile)
    importer: Actor = reader.actor
    assert importer.organisation is not None
    others = {level: make_org(OWNER_COMPONENT[level]) for level in PERSON_LEVELS}
    row_org = make_org(Component.CIVILIAN)
    exercise = Space.objects.create(kind=SpaceKind.EXERCISE, name="Exercise")
    planted: list[tuple[str, str, Person]] = []
    for relation in ("none", "owner"):
        for level in PERSON_LEVELS:
            cell = _cell(relation, profile, level)
            if cell != "-":
                owner = importer.organisation if relation == "owner" else others[level]
                planted.append((f"{relation}/{level}", cell, _plant(owner, level)))
    planted.append(("exercise space", "N", _plant(row_org, Level.MISSION, space=exercise)))
    client = _client(reader.user)
    failures: list[str] = []
    for where, cell, person in planted:
        shows_email = access.show(importer, person).view.shows("email")
        if shows_email != (cell == "F"):
            failures.append(f"{where}: the importer's view shows the e-mail={shows_email}, the table says {cell}")
        name = f"Imported {uuid.uuid4().hex[:8]}"
        stored_email = _dry_run(client, _row(name, person.email, row_org))
        new_email = _dry_run(client, _row(name, f"{uuid.uuid4().hex}@new.example", row_org))
        same = stored_email == new_email
        if stored_email[0] != 200 or new_email[0] != 200:
            failures.append(f"{where}: dry runs answered {stored_email[0]} and {new_email[0]}")
        elif cell == "F" and (same or b"1 would be updated" not in stored_email[1]):
            failures.append(f"{where}: expected F, but the row does not update the person the importer fully sees")
        elif cell != "F" and not same:
            failures.append(f"{where}: expected {cell}, but the dry run tells the stored person from a new one")
    count_access_cases("import dry runs", len(planted))
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------------------------------------
# Confirming: a new person is created, alike; administrators who see the hidden one are told


def test_confirming_a_row_of_a_hidden_person_answers_as_for_a_new_one_and_tells_only_who_sees_both() -> None:
    """A host-nation administrator may not see people of other organisations at contact level
    MISSION. Their row with such a person's e-mail creates a new person, answered exactly as a
    new person's row; administrators who see both find the pair among the possible duplicates,
    and the importer finds it nowhere."""
    importer = make_member(Component.HOST_NATION, role=Role.ADMINISTRATOR)
    hidden = make_member(Component.CIVILIAN).person
    assert not access.visible(importer.actor, Person.objects.filter(pk=hidden.pk)).exists()
    org = importer.org

    answers = []
    for email in (hidden.email, f"{uuid.uuid4().hex}@new.example"):
        client = _client(importer.user)  # a fresh session: no message left from the first import
        name = f"Imported {uuid.uuid4().hex[:8]}"
        report = _dry_run(client, _row(name, email, org))
        assert report[0] == 200 and b"1 record would be created" in report[1]
        status, location, shown = _confirm(client)
        created = Person.objects.get(full_name=name)
        answers.append((report[1].replace(name.encode(), b"NAME"), status, location, shown))
        assert created.email == email and created.pk != hidden.pk
    assert answers[0] == answers[1]
    assert answers[0][1] == 302

    duplicate = Person.objects.get(email=hidden.email, owner=org)
    hidden.refresh_from_db()
    assert hidden.email and hidden.owner_id != org.pk  # the hidden person is untouched
    # Nothing is written about the hidden person (no note, no gap in the ledger's numbering); an
    # administrator who sees both finds the pair among the possible duplicates, the importer does not.
    assert not LedgerEntry.objects.filter(object_type="core.person", object_id=str(hidden.pk),
                                          actor_user_id__isnull=True).exclude(action="person.created").exists()
    approvals_page = reverse("core:approvals")
    own = client.get(approvals_page).content.decode()
    assert hidden.full_name not in own and hidden.email not in own
    other_admin = make_member(Component.CIVILIAN, role=Role.ADMINISTRATOR)
    # The duplicate is the host organisation's (RESTRICTED): a civilian administrator sees its name
    # but not its e-mail, so the shared address is not told to them either ...
    assert hidden.email not in _client(other_admin.user).get(approvals_page).content.decode()
    # ... until the host organisation releases the record to them: then they see both, and are told.
    services.release_record(importer.actor, duplicate, organisation=other_admin.org)
    seen_by_other = _client(other_admin.user).get(approvals_page).content.decode()
    assert hidden.email in seen_by_other
    assert hidden.full_name in seen_by_other and duplicate.full_name in seen_by_other


def test_a_withheld_email_matches_no_one(db: Any) -> None:
    """A civilian administrator sees a MILITARY-level person's name but not their e-mail: a row
    with that e-mail is planned as a new person's (and noted nowhere: the importer sees the person)."""
    admin = make_member(Component.CIVILIAN, role=Role.ADMINISTRATOR)
    soldier = _plant(make_org(Component.MILITARY), Level.MILITARY)
    assert access.show(admin.actor, soldier).view.shows("full_name")
    assert not access.show(admin.actor, soldier).view.shows("email")
    plan = directory_csv.plan_people(admin.actor, _row("Someone Else", soldier.email, admin.org))
    assert [(r.action, r.target_id) for r in plan.rows] == [("create", None)]
    assert not plan.rejected
    # By the name and organisation they see, the person is matched whatever the e-mail says, and the
    # row is refused for the contact details they may not see.
    for email in (soldier.email, "other@new.example"):
        plan = directory_csv.plan_people(admin.actor, _row(soldier.full_name, email,
                                                           Organisation.objects.get(pk=soldier.owner_id)))
        assert [r.reasons for r in plan.rejected] == [
            ["You may not see this person's contact details, so you may not update them."]]
