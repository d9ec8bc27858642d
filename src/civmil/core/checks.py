"""Deployment checks: what must hold before civmil serves (``civmil check --deploy``).

``civmil serve`` runs them before it listens in production, and refuses to start on any error;
``civmil worker`` refuses on :func:`connection_problems` in every environment. Each message
names the environment variable (or setting) to fix:

- ``civmil.core.E001`` the database (DATABASE_URL) cannot be reached;
- ``civmil.core.E002`` migrations are not applied;
- ``civmil.core.E003`` Redis (REDIS_URL) cannot be reached;
- ``civmil.core.E004`` the static manifest is missing or unreadable (``collectstatic`` not run);
- ``civmil.core.E005`` a message catalogue (.po) has no up-to-date compiled .mo;
- ``civmil.core.E006`` e-mail would not be delivered in production (console, file... backend);
- ``civmil.core.E007`` the ledger signing key cannot be used;
- ``civmil.core.E008`` the ledger's trusted-keys file cannot be read.

The low-level probes (:func:`ping_database`, :func:`unapplied_migrations`, :func:`ping_redis`,
:func:`static_manifest_problem`) are shared with ``/health/ready`` (:mod:`civmil.core.health`),
which shows only the kind of a failure.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import checks
from django.db import DEFAULT_DB_ALIAS, connections

from civmil.core.redact import shown_url

DATABASE_UNREACHABLE = "civmil.core.E001"
MIGRATIONS_PENDING = "civmil.core.E002"
REDIS_UNREACHABLE = "civmil.core.E003"
STATIC_MANIFEST = "civmil.core.E004"
CATALOGUES = "civmil.core.E005"
EMAIL_NOT_DELIVERED = "civmil.core.E006"
SIGNING_KEY = "civmil.core.E007"
TRUSTED_KEYS = "civmil.core.E008"

#: Seconds a start-up probe of the database or Redis may wait for a connection.
CONNECT_TIMEOUT = 5
#: A compiled catalogue older than its .po by more than this is stale (installers and checkouts write
#: both files within moments of each other, in either order).
CATALOGUE_SLACK_SECONDS = 2.0
#: E-mail backends that deliver mail.
DELIVERING_BACKENDS = ("django.core.mail.backends.smtp.EmailBackend",)
TAG = "civmil"


def _production() -> bool:
    return str(getattr(settings, "CIVMIL_ENV", "development")) == "production"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0].strip() if text else type(exc).__name__


# ---------------------------------------------------------------------------------------------
# Probes


def ping_database(alias: str = DEFAULT_DB_ALIAS, timeout: int = CONNECT_TIMEOUT) -> None:
    """Connect to the database and run ``SELECT 1``; raise on failure.

    PostgreSQL is probed on a connection of its own that gives up after ``timeout`` seconds (a
    firewalled host would otherwise hang the start for minutes); a SQLite file must exist already
    (connecting would create an empty one).
    """
    connection = connections[alias]
    if connection.vendor == "postgresql":
        import psycopg

        params = connection.get_connection_params()
        with psycopg.connect(**params, connect_timeout=timeout) as probe:
            probe.execute("SELECT 1")
        return
    if connection.vendor == "sqlite":
        name = str(connection.settings_dict["NAME"])
        in_memory = not name or name == ":memory:" or "mode=memory" in name
        if not in_memory and connection.connection is None and not Path(name).exists():
            raise FileNotFoundError(f"the SQLite file {name} does not exist")
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def unapplied_migrations(alias: str = DEFAULT_DB_ALIAS) -> list[str]:
    """``app.migration`` names this code has that the database has not applied, in no set order."""
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(connections[alias], ignore_no_migrations=True)
    applied = set(loader.applied_migrations)
    return sorted(f"{app}.{name}" for app, name in set(loader.graph.nodes) - applied)


def redis_url() -> str | None:
    """The Redis URL of the channel layer, when it is on Redis."""
    layer = settings.CHANNEL_LAYERS.get("default", {})
    if "redis" not in str(layer.get("BACKEND", "")).lower():
        return None
    host = layer["CONFIG"]["hosts"][0]
    return str(host["address"] if isinstance(host, dict) else host)


def ping_redis(url: str, timeout: int = CONNECT_TIMEOUT) -> None:
    """``PING`` Redis at ``url``; raise on failure."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
    finally:
        client.close()


def static_manifest_problem() -> str | None:
    """What is wrong with the static files' manifest, or ``None`` (also without a manifest storage)."""
    from django.contrib.staticfiles.storage import staticfiles_storage

    manifest_name = getattr(staticfiles_storage, "manifest_name", None)
    if manifest_name is None:  # a storage without a manifest (development, tests)
        return None
    where = Path(str(settings.STATIC_ROOT)) / manifest_name
    try:
        content = staticfiles_storage.read_manifest()  # type: ignore[attr-defined]  # a ManifestFilesMixin
    except OSError as exc:
        return f"cannot read the static manifest {where}: {exc.strerror or type(exc).__name__}"
    if content is None:
        return f"no static manifest at {where}: run `civmil collectstatic --noinput`"
    try:
        paths = json.loads(content).get("paths")
    except (ValueError, AttributeError):
        paths = None
    if not isinstance(paths, dict):
        return f"the static manifest {where} is not one collectstatic wrote: run `civmil collectstatic --noinput`"
    # Every page's scripts and stylesheets come from these: without them every page answers 500.
    missing = [name for name in getattr(settings, "VENDOR_ASSETS", ())
               if not any(str(path).startswith(f"vendor/{name}/") for path in paths)]
    if missing:
        return (f"the static manifest {where} lacks the front-end libraries {', '.join(missing)}: install civmil "
                "from its release package (which carries them), or run `npm ci` in a source checkout, then "
                "`civmil collectstatic --noinput`")
    return None


def catalogue_dirs() -> list[Path]:
    """Where civmil's translations are: LOCALE_PATHS and the ``locale`` folder of each civmil app."""
    from django.apps import apps

    found = [Path(p) for p in getattr(settings, "LOCALE_PATHS", [])]
    found += [Path(app.path) / "locale" for app in apps.get_app_configs() if app.name.startswith("civmil.")]
    unique: list[Path] = []
    for path in found:
        if path.is_dir() and path.resolve() not in unique:
            unique.append(path.resolve())
    return unique


def stale_catalogues(directories: Iterable[Path]) -> list[str]:
    """Each .po under ``directories`` whose compiled .mo is missing, unreadable or older than it."""
    import gettext

    problems = []
    for directory in directories:
        for po in sorted(directory.rglob("*.po")):
            mo = po.with_suffix(".mo")
            if not mo.exists():
                problems.append(f"{po} has no compiled {mo.name}")
                continue
            try:
                with mo.open("rb") as fh:
                    gettext.GNUTranslations(fh)
            except (OSError, ValueError, UnicodeDecodeError) as exc:
                problems.append(f"{mo} cannot be read ({_first_line(exc)})")
                continue
            if mo.stat().st_mtime + CATALOGUE_SLACK_SECONDS < po.stat().st_mtime:
                problems.append(f"{mo} is older than {po.name}")
    return problems


# ---------------------------------------------------------------------------------------------
# Start-up: reachability, for serve (through the deployment checks) and the worker


def _database_messages() -> list[checks.CheckMessage]:
    url = shown_url(str(getattr(getattr(settings, "DEPLOY", None), "database_url", "")))
    try:
        ping_database()
    except Exception as exc:  # whatever the driver raises, the database cannot be used
        hint = ("Create it with `civmil migrate`, or point DATABASE_URL at the right file."
                if isinstance(exc, FileNotFoundError) else
                "Check that the database server runs, that the database and its role exist and that the "
                "password in DATABASE_URL is right (docs/deploy.md).")
        return [checks.Error(f"DATABASE_URL: cannot use the database {url}: {_first_line(exc)}", hint=hint,
                             id=DATABASE_UNREACHABLE)]
    try:
        pending = unapplied_migrations()
    except Exception as exc:  # an unreadable migration table: as unusable as an unreachable database
        return [checks.Error(f"DATABASE_URL: cannot read the applied migrations of {url}: {_first_line(exc)}",
                             id=MIGRATIONS_PENDING)]
    if pending:
        shown = ", ".join(pending[:5]) + (f" and {len(pending) - 5} more" if len(pending) > 5 else "")
        return [checks.Error(
            f"DATABASE_URL: {len(pending)} migration(s) not applied to {url}: {shown}",
            hint="Run `civmil migrate` (after a backup: docs/upgrade.md) before starting civmil.",
            id=MIGRATIONS_PENDING)]
    return []


def _redis_messages() -> list[checks.CheckMessage]:
    url = redis_url()
    if url is None:
        return []
    try:
        ping_redis(url)
    except Exception as exc:  # any failure: live updates would not cross processes
        return [checks.Error(
            f"REDIS_URL: cannot reach Redis at {shown_url(url)}: {_first_line(exc)}",
            hint="Start Redis (systemctl start redis-server), or unset REDIS_URL to run without it.",
            id=REDIS_UNREACHABLE)]
    return []


def connection_problems() -> list[checks.CheckMessage]:
    """The database (reachable, every migration applied) and Redis (when REDIS_URL is set)."""
    return [*_database_messages(), *_redis_messages()]


def services_reachable(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    return connection_problems()


# ---------------------------------------------------------------------------------------------
# Files and settings


def static_manifest_present(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    problem = static_manifest_problem()
    if problem is None:
        return []
    return [checks.Error(f"CIVMIL_VAR_DIR: {problem}",
                         hint="Pages cannot name their stylesheets and scripts without it: every page would "
                              "answer 500. Run it as the service user, with the service's environment.",
                         id=STATIC_MANIFEST)]


def catalogues_compiled(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    problems = stale_catalogues(catalogue_dirs())
    return [checks.Error(f"translations: {problem}",
                         hint="Compile them with `civmil compilemessages` in the source tree (needs gettext's "
                              "msgfmt), or install a package built by `make dist`, which carries them.",
                         id=CATALOGUES) for problem in problems]


def email_delivered_in_production(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    backend = str(getattr(settings, "EMAIL_BACKEND", ""))
    if not _production() or backend in DELIVERING_BACKENDS:
        return []
    return [checks.Error(
        f"EMAIL_URL: e-mail goes to {backend.rsplit('.', 2)[-2]} in production and reaches nobody",
        hint="Set EMAIL_URL to the mission's mail server: smtp://, submission:// (STARTTLS) or smtps://.",
        id=EMAIL_NOT_DELIVERED)]


def ledger_keys_usable(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from django.core.exceptions import ImproperlyConfigured

    from civmil.core.ledger import signing

    messages: list[checks.CheckMessage] = []
    try:
        signing.public_key()
    except ImproperlyConfigured as exc:
        messages.append(checks.Error(f"CIVMIL_LEDGER_SIGNING_KEY: {_first_line(exc)}", id=SIGNING_KEY))
        return messages
    var = getattr(settings, "CIVMIL_VAR_DIR", None)
    path = Path(var) / signing.TRUSTED_KEYS_FILE if var else None
    try:
        signing.trusted_keys()
    except ImproperlyConfigured as exc:
        messages.append(checks.Error(f"CIVMIL_VAR_DIR: {_first_line(exc)}",
                                     hint="Each line holds one former public key (64 hex characters), then "
                                          "an optional # comment; `civmil ledger rotate-key` writes it.",
                                     id=TRUSTED_KEYS))
    except OSError as exc:
        messages.append(checks.Error(f"CIVMIL_VAR_DIR: cannot read {path}: {exc.strerror}",
                                     hint=f"Give it to the service user: chown civmil: {path}", id=TRUSTED_KEYS))
    return messages


def register() -> None:
    """Register the checks above with Django's check framework, as deployment checks."""
    for check in (services_reachable, static_manifest_present, catalogues_compiled, email_delivered_in_production,
                  ledger_keys_usable):
        checks.register(check, TAG, deploy=True)
