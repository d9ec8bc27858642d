"""Run by the scale-out test and bench/live_hold.py in a child process (DJANGO_SETTINGS_MODULE and
the database from the environment): three members, a signed-in session for each, and an API token
for the author; with an argument N, N more signed-in sessions of civilian readers
(``reader_sessions``: one reader for every SESSIONS_PER_READER sessions, as people signed in on
several devices). Prints one JSON line."""

from __future__ import annotations

import json
import sys

import django

django.setup()

from django.conf import settings  # noqa: E402

from civmil.core.accounts.services import create_token  # noqa: E402
from civmil.core.choices import Component  # noqa: E402
from civmil.core.models.tokens import TokenScope  # noqa: E402
from tests.factories import make_member, session_for  # noqa: E402

author = make_member(Component.HUMANITARIAN)
reader = make_member(Component.CIVILIAN)
soldier = make_member(Component.MILITARY)
_, secret = create_token(author.actor, name="scale test", membership=author.membership, scope=TokenScope.READ_WRITE)
SESSIONS_PER_READER = 10
more = int(sys.argv[1]) if len(sys.argv) > 1 else 0
readers = [make_member(Component.CIVILIAN) for _ in range(-(-more // SESSIONS_PER_READER))]
print(json.dumps({
    "token": secret, "author_org": str(author.org.pk),
    "reader_session": session_for(reader), "soldier_session": session_for(soldier),
    "reader_sessions": [session_for(readers[i // SESSIONS_PER_READER]) for i in range(more)],
    "session_cookie": settings.SESSION_COOKIE_NAME,
}))
