"""Run by tests/deploy/test_guide.py in a child process, on the deployed database (the environment
is the units' own, from the guide's /etc/civmil/civmil.env). Prints one JSON line.

- ``members``: a humanitarian author with an API token and a civilian reader with a signed-in
  session, to write through one server and read live events on the other;
- ``checkpoint``: the periodic ledger checkpoint's runs, their outcome, and the signed checkpoints.
"""

from __future__ import annotations

import json
import sys

import django

django.setup()

from django.conf import settings  # noqa: E402


def members() -> dict[str, str]:
    from civmil.core.accounts.services import create_token
    from civmil.core.choices import Component
    from civmil.core.models.tokens import TokenScope
    from tests.factories import make_member, session_for

    author = make_member(Component.HUMANITARIAN)
    reader = make_member(Component.CIVILIAN)
    _, secret = create_token(author.actor, name="guide test", membership=author.membership,
                             scope=TokenScope.READ_WRITE)
    return {"token": secret, "author_org": str(author.org.pk), "reader_session": session_for(reader),
            "session_cookie": settings.SESSION_COOKIE_NAME}


def checkpoint() -> dict[str, object]:
    from django_tasks_db.models import DBTaskResult

    from civmil.core.models import Checkpoint, PeriodicRun

    runs = list(PeriodicRun.objects.filter(name="ledger.checkpoint").order_by("period_start"))
    results = {str(r.pk): r.status for r in DBTaskResult.objects.filter(id__in=[run.task_result_id for run in runs])}
    return {
        "periods": [run.period_start.isoformat() for run in runs],
        "statuses": [results.get(run.task_result_id, "missing") for run in runs],
        "checkpoints": Checkpoint.objects.count(),
    }


if __name__ == "__main__":
    print(json.dumps({"members": members, "checkpoint": checkpoint}[sys.argv[1]]()))
