"""Run by test_two_processes in a child process (DJANGO_SETTINGS_MODULE and the database from the
environment): three members, a signed-in session for each, and an API token for the author.
Prints one JSON line."""

from __future__ import annotations

import json

import django

django.setup()

from django.conf import settings  # noqa: E402

from civmil.core.accounts_services import create_token  # noqa: E402
from civmil.core.choices import Component  # noqa: E402
from civmil.core.models.tokens import TokenScope  # noqa: E402
from tests.factories import make_member, session_for  # noqa: E402

author = make_member(Component.HUMANITARIAN)
reader = make_member(Component.CIVILIAN)
soldier = make_member(Component.MILITARY)
_, secret = create_token(author.actor, name="scale test", membership=author.membership, scope=TokenScope.READ_WRITE)
print(json.dumps({
    "token": secret, "author_org": str(author.org.pk),
    "reader_session": session_for(reader), "soldier_session": session_for(soldier),
    "session_cookie": settings.SESSION_COOKIE_NAME,
}))
