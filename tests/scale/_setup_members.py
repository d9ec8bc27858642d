"""Run by test_two_processes in a child process (DJANGO_SETTINGS_MODULE and the database from the
environment): three members, a signed-in session for each, and an API token for the author.
Prints one JSON line."""

from __future__ import annotations

import json
from importlib import import_module

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: E402

from civmil.core.accounts_services import create_token  # noqa: E402
from civmil.core.choices import Component  # noqa: E402
from civmil.core.models.tokens import TokenScope  # noqa: E402
from tests.factories import Member, make_member  # noqa: E402


def session_for(m: Member) -> str:
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(m.user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = m.user.get_session_auth_hash()
    store.create()
    return str(store.session_key)


author = make_member(Component.HUMANITARIAN)
reader = make_member(Component.CIVILIAN)
soldier = make_member(Component.MILITARY)
_, secret = create_token(author.actor, name="scale test", membership=author.membership, scope=TokenScope.READ_WRITE)
print(json.dumps({
    "token": secret, "author_org": str(author.org.pk),
    "reader_session": session_for(reader), "soldier_session": session_for(soldier),
    "session_cookie": settings.SESSION_COOKIE_NAME,
}))
