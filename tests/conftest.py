from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

pytest_plugins = ["tests.browser"]

settings.register_profile("ci", max_examples=40, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("dev", max_examples=20, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing() -> None:
    """Argon2 is right for production and far too slow for hundreds of test accounts."""
    from django.conf import settings as django_settings

    django_settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True, scope="session")
def _cache_of_this_test_process() -> None:
    """The site's cache is shared by every process (files in the var directory, or Redis); the test
    processes run side by side and clear it between tests, so each keeps one of its own. The
    shared choice itself is tested in tests/core/test_cache.py."""
    from django.conf import settings as django_settings
    from django.test.signals import setting_changed

    value = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "civmil-tests"}}
    django_settings.CACHES = value
    # Django's cache handler (and its checks) drop what they built from the former setting.
    setting_changed.send(sender=None, setting="CACHES", value=value, enter=True)


@pytest.fixture(autouse=True)
def _metrics_stay_in_this_process(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """`civmil serve` and `civmil worker` point their process at the host's metrics directory, for
    good (prometheus_client's multiprocess mode cannot be left). Run in a test's own process, they
    must not switch the rest of the suite: outside the metrics tests they only name the directory."""
    if request.module.__name__.endswith("test_metrics"):
        return
    from civmil.core import metrics

    monkeypatch.setattr(metrics, "prepare_multiprocess_dir", lambda path=None: path or metrics.multiprocess_dir())


@pytest.fixture(autouse=True, scope="session")
def _mail_sent_at_once() -> None:
    """Tests read mail.outbox right after a request: mail is sent at once, not queued for a worker
    (the queue itself is tested in tests/core/test_mail.py)."""
    from django.conf import settings as django_settings

    django_settings.CIVMIL_MAIL_QUEUE = False


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """A request in French leaves French active in its thread: every test starts and ends in English."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _no_settings_from_another_test() -> None:
    """Mission settings read by one test (then rolled back with it) are not another test's: each
    test starts as a request does, with none read yet."""
    from civmil.core import services
    from civmil.core.templatetags import civmil as civmil_tags

    services._forget_settings()
    civmil_tags._forget_zones()


@pytest.fixture(autouse=True)
def _no_shared_event_batches() -> Iterator[None]:
    """Outbox ids are reused after a rolled-back test: batches shared by subscribers must not outlive it."""
    from civmil.core import events

    events.forget_batches()
    yield
    events.forget_batches()


@pytest.fixture
def member(db):  # type: ignore[no-untyped-def]
    """Factory: ``member("humanitarian", role=...)`` -> a signed-in-able person with one membership."""
    from tests.factories import make_member

    return make_member


@pytest.fixture
def org(db):  # type: ignore[no-untyped-def]
    from tests.factories import make_org

    return make_org


# --- Access-matrix case counting, summed across xdist workers and printed at the end -----------
_ACCESS_CASES: dict[str, int] = {}


def count_access_cases(channel: str, n: int) -> None:
    """Record that ``n`` (reader, relation, level) cases were checked on ``channel``."""
    _ACCESS_CASES[channel] = _ACCESS_CASES.get(channel, 0) + n


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["access_cases"] = dict(_ACCESS_CASES)


class _XdistCollector:
    @staticmethod
    def pytest_testnodedown(node: object, error: object) -> None:
        for channel, n in getattr(node, "workeroutput", {}).get("access_cases", {}).items():
            _ACCESS_CASES[channel] = _ACCESS_CASES.get(channel, 0) + n


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests last: the session's Playwright keeps an event loop in the main thread, after
    which no asyncio test of the same process could run (each xdist worker keeps this order)."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


def pytest_configure(config: pytest.Config) -> None:
    # Tests render pages without a collected manifest: serve static files from the finders.
    from django.conf import settings as django_settings

    django_settings.STORAGES = {
        **django_settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    django_settings.STATIC_ROOT.mkdir(parents=True, exist_ok=True)
    django_settings.WHITENOISE_USE_FINDERS = True
    # Most tests sign in privileged roles without a second factor; tests/core/test_accounts.py
    # turns the requirement back on to prove it.
    django_settings.CIVMIL_MFA_REQUIRED = False
    # Maps draw no basemap unless a test builds one (tests/actors/test_basemap.py): a basemap the
    # developer built in the var directory must not change what other tests see.
    django_settings.CIVMIL_BASEMAP = django_settings.CIVMIL_VAR_DIR / "tests-have-no-basemap" / "basemap.pmtiles"
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistCollector(), "civmil-access-cases")


def pytest_terminal_summary(terminalreporter: object) -> None:
    if _ACCESS_CASES:
        total = sum(_ACCESS_CASES.values())
        detail = ", ".join(f"{channel}: {n}" for channel, n in sorted(_ACCESS_CASES.items()))
        terminalreporter.write_line(  # type: ignore[attr-defined]
            f"access matrix: {total} cases checked (reader profile x relation x level x channel) — {detail}"
        )


@pytest.fixture(autouse=True, scope="session")
def _ledger_triggers_lifted_for_flush():  # type: ignore[no-untyped-def]
    """The ledger tables refuse DELETE and TRUNCATE (migration core 0003), which would make the
    flush after every transactional test (``transactional_db``, ``live_server``) fail. Emptying
    the database lifts them for exactly that statement list and restores them in the same
    transaction; nothing else in the suite runs without them."""
    from django.db.backends.base.operations import BaseDatabaseOperations

    from tests.ledger_support import allow_flush

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BaseDatabaseOperations, "execute_sql_flush",
                      allow_flush(BaseDatabaseOperations.execute_sql_flush))
        yield


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: pytest.FixtureDef) -> Iterator[None]:  # type: ignore[type-arg]
    """After the run, end any PostgreSQL session still on the test database, so it can be dropped.

    A live consumer that a test kills mid-call (to prove it cleans up) leaves its connection in
    an executor thread that no later call reuses; in a server the next call there closes it.
    """
    yield
    from django.db import connection

    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE datname = current_database() AND pid <> pg_backend_pid()")


@pytest.fixture
def mfa_on(settings: Any) -> None:
    """The second-factor rule as deployed (the suite's defaults turn it off)."""
    middleware = "civmil.core.mfa.RequireSecondFactorMiddleware"
    if middleware not in settings.MIDDLEWARE:
        stack = list(settings.MIDDLEWARE)
        stack.insert(stack.index("allauth.account.middleware.AccountMiddleware") + 1, middleware)
        settings.MIDDLEWARE = stack
    settings.CIVMIL_MFA_REQUIRED = True
