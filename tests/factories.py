"""Test data built through the services (so the ledger and the policy see what users see)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import transaction

from civmil.core import services
from civmil.core.acting import Actor, actor_for_user
from civmil.core.choices import Component, Level, OrganisationKind, Role
from civmil.core.models import Membership, Organisation, Person, User

_counter = itertools.count(1)
T = TypeVar("T")

KIND_FOR = {
    Component.MILITARY: OrganisationKind.MILITARY_UNIT,
    Component.POLICE: OrganisationKind.POLICE_UNIT,
    Component.CIVILIAN: OrganisationKind.MISSION_SECTION,
    Component.HUMANITARIAN: OrganisationKind.INTERNATIONAL_NGO,
    Component.HOST_NATION: OrganisationKind.GOVERNMENT,
    Component.COMMUNITY: OrganisationKind.COMMUNITY_GROUP,
}
DEFAULT_ROLE = {
    Component.MILITARY: Role.MILITARY_STAFF,
    Component.POLICE: Role.POLICE,
    Component.CIVILIAN: Role.CIVILIAN_STAFF,
    Component.HUMANITARIAN: Role.CMCOORD,
    Component.HOST_NATION: Role.HOST_NATION_LIAISON,
    Component.COMMUNITY: Role.COMMUNITY_LIAISON,
}
PASSWORD = "correct-horse-battery-9"


def make_org(component: str = Component.CIVILIAN, name: str | None = None, **extra: Any) -> Organisation:
    n = next(_counter)
    return services.save_organisation(None, Organisation(
        name=name or f"{component.title()} organisation {n}", acronym=f"O{n}", component=component,
        kind=extra.pop("kind", KIND_FOR[Component(component)]), **extra))


@dataclass
class Member:
    user: User
    person: Person
    membership: Membership
    org: Organisation

    @property
    def actor(self) -> Actor:
        return actor_for_user(self.user, self.membership.pk)


def make_member(component: str = Component.CIVILIAN, role: str | None = None, org: Organisation | None = None,
                username: str | None = None, contact_level: str | None = None) -> Member:
    """A person with an account and one active membership (privileged roles made active directly)."""
    org = org or make_org(component)
    n = next(_counter)
    username = username or f"user{n}"
    if contact_level is None:
        mission = org.component not in (Component.HOST_NATION, Component.COMMUNITY)
        contact_level = Level.MISSION if mission else Level.RESTRICTED
    person = services.save_person(None, Person(full_name=f"Person {n}", owner=org, level=contact_level,
                                               email=f"{username}@example.org"))
    user = services.create_account(None, username=username, email=f"{username}@example.org",
                                   password=PASSWORD, person=person)
    membership = services.add_membership(None, person=person, organisation=org,
                                         role=role or DEFAULT_ROLE[Component(org.component)])
    return Member(user=user, person=person, membership=membership, org=org)


def session_for(m: Member) -> str:
    """A stored signed-in session of ``m`` (its key), as signing in would leave it: for WebSocket
    clients outside Django's test client (benchmarks, the scale-out test)."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(m.user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = m.user.get_session_auth_hash()
    store.create()
    return str(store.session_key)


@contextmanager
def kept_for_many_tests(django_db_blocker: Any, make: Callable[[], T]) -> Iterator[T]:
    """What ``make`` writes stays for every test until the block ends, then is rolled back: for a
    fixture of module scope whose records many tests use (made once, not once per test).

    Nothing is committed, so no test elsewhere sees it; each test using the ``db`` fixture runs in
    a savepoint inside it, so what one test writes is gone before the next (as with the demo:
    tests/demo/support.py).
    """
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
    try:
        with django_db_blocker.unblock():
            made = make()
        yield made
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
