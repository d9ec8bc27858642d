"""Loading the demo once for many tests: inside one transaction that is rolled back at the end.

The demo stays invisible to every other test (nothing is committed), and each test using the
``db`` fixture runs in a savepoint inside it, so a test that writes cannot disturb the next.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone


@dataclass(frozen=True)
class LoadedDemo:
    report: Any
    digest: str
    #: Digest of an earlier load into the same empty database (rolled back), or "".
    first_digest: str = ""


@contextmanager
def loaded_demo(django_db_blocker: Any, *, twice: bool = False, entries: int | None = None) -> Iterator[LoadedDemo]:
    """Load the demo (``twice``: load, digest and roll back first, then load again).

    ``entries`` loads fewer liaison log entries, for tests about the cast only (quicker).
    """
    from civmil.demo import loader

    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
    try:
        with django_db_blocker.unblock():
            now = timezone.now()
            options = {} if entries is None else {"entries": entries}
            first_digest = ""
            if twice:
                with transaction.atomic():
                    first = loader.load(now=now, **options)
                    first_digest = loader.digest(first.now)
                    transaction.set_rollback(True)
            report = loader.load(now=now, **options)
            digest = loader.digest(report.now)
        yield LoadedDemo(report=report, digest=digest, first_digest=first_digest)
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
