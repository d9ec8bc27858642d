"""`civmil check --deploy`, `civmil serve` and `civmil worker` refuse what would make a server that
looks healthy and answers 500: each message names the variable to fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from civmil.config.env import redis_channel_layer
from civmil.core import checks
from civmil.core.management.commands import serve
from tests.core.test_env import VARIABLES

MANIFEST_STORAGE = {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}
UNREACHABLE_PG = "postgres://civmil:s3cret@127.0.0.1:1/civmil"


def _ids(messages: list[Any]) -> list[str]:
    return [m.id for m in messages]


# -- the static manifest ----------------------------------------------------------------------------

def test_a_missing_or_foreign_static_manifest_fails_the_deploy_check(settings: Any, tmp_path: Path) -> None:
    settings.STATIC_ROOT = str(tmp_path)
    settings.STORAGES = {**settings.STORAGES, "staticfiles": MANIFEST_STORAGE}
    [error] = checks.static_manifest_present()
    assert error.id == checks.STATIC_MANIFEST and error.is_serious()
    assert error.msg.startswith("CIVMIL_VAR_DIR: no static manifest at " + str(tmp_path / "staticfiles.json"))
    assert "collectstatic" in error.msg
    (tmp_path / "staticfiles.json").write_text("<html>not json</html>")
    [error] = checks.static_manifest_present()
    assert "not one collectstatic wrote" in error.msg
    # Collected without the front-end libraries (a package built without them, no `npm ci`).
    (tmp_path / "staticfiles.json").write_text(json.dumps({"paths": {"a.css": "a.123.css"}, "version": "1.1"}))
    [error] = checks.static_manifest_present()
    assert "lacks the front-end libraries leaflet/dist" in error.msg and "htmx.org/dist" in error.msg
    paths = {"a.css": "a.123.css",
             **{f"vendor/{name}/x.js": f"vendor/{name}/x.1.js" for name in settings.VENDOR_ASSETS}}
    (tmp_path / "staticfiles.json").write_text(json.dumps({"paths": paths, "version": "1.1"}))
    assert checks.static_manifest_present() == []


# -- compiled catalogues ----------------------------------------------------------------------------

def _catalogue(root: Path, *, compiled: bool, older_by: float = 0) -> Path:
    folder = root / "fr" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    po = folder / "django.po"
    po.write_text('msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n')
    if compiled:
        subprocess.run(["msgfmt", "-o", str(po.with_suffix(".mo")), str(po)], check=True)
        if older_by:
            now = time.time()
            os.utime(po.with_suffix(".mo"), (now - older_by, now - older_by))
            os.utime(po, (now, now))
    return po


@pytest.fixture
def msgfmt() -> None:
    import shutil

    if shutil.which("msgfmt") is None:
        pytest.skip("gettext's msgfmt is not installed")


def test_an_uncompiled_catalogue_fails_the_deploy_check(msgfmt: None, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checks, "catalogue_dirs", lambda: [tmp_path])
    po = _catalogue(tmp_path, compiled=False)
    [error] = checks.catalogues_compiled()
    assert error.id == checks.CATALOGUES and f"{po} has no compiled django.mo" in error.msg
    assert "compilemessages" in (error.hint or "")
    po.with_suffix(".mo").write_bytes(b"not a catalogue")
    [error] = checks.catalogues_compiled()
    assert "cannot be read" in error.msg


def test_a_catalogue_compiled_before_its_last_edit_is_stale(msgfmt: None, tmp_path: Path) -> None:
    _catalogue(tmp_path / "fresh", compiled=True)
    _catalogue(tmp_path / "stale", compiled=True, older_by=3600)
    [problem] = checks.stale_catalogues([tmp_path])
    assert "stale" in problem and "is older than django.po" in problem
    # An installer writes both files within moments, in either order: that is not stale.
    _catalogue(tmp_path / "installed", compiled=True, older_by=0.5)
    assert len(checks.stale_catalogues([tmp_path])) == 1


def test_the_catalogues_looked_at_are_civmils() -> None:
    from django.conf import settings

    assert [Path(p).resolve() for p in settings.LOCALE_PATHS] == checks.catalogue_dirs()


# -- e-mail and keys --------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["console", "locmem", "dummy", "filebased"])
def test_production_mail_that_reaches_nobody_fails_the_deploy_check(settings: Any, backend: str) -> None:
    settings.EMAIL_BACKEND = f"django.core.mail.backends.{backend}.EmailBackend"
    assert checks.email_delivered_in_production() == []  # development: fine
    settings.CIVMIL_ENV = "production"
    [error] = checks.email_delivered_in_production()
    assert error.id == checks.EMAIL_NOT_DELIVERED and error.msg.startswith(f"EMAIL_URL: e-mail goes to {backend}")
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    assert checks.email_delivered_in_production() == []


def test_an_unusable_signing_key_or_trusted_keys_file_fails_the_deploy_check(settings: Any, tmp_path: Path) -> None:
    assert checks.ledger_keys_usable() == []
    good_key = settings.CIVMIL_LEDGER_SIGNING_KEY
    settings.CIVMIL_LEDGER_SIGNING_KEY = "not-a-seed"
    [error] = checks.ledger_keys_usable()
    assert error.id == checks.SIGNING_KEY and error.msg.startswith("CIVMIL_LEDGER_SIGNING_KEY: ")
    assert "not-a-seed" not in error.msg
    settings.CIVMIL_LEDGER_SIGNING_KEY = good_key
    settings.CIVMIL_VAR_DIR = tmp_path
    (tmp_path / "ledger_trusted_keys").write_text("zz-not-a-key\n")
    [error] = checks.ledger_keys_usable()
    assert error.id == checks.TRUSTED_KEYS and str(tmp_path / "ledger_trusted_keys") in error.msg
    (tmp_path / "ledger_trusted_keys").unlink()
    (tmp_path / "ledger_trusted_keys").mkdir()  # unreadable as a file, even for root
    [error] = checks.ledger_keys_usable()
    assert error.id == checks.TRUSTED_KEYS and "cannot read" in error.msg


# -- the database and Redis -------------------------------------------------------------------------

@pytest.mark.django_db
def test_a_reachable_migrated_database_passes() -> None:
    assert checks.connection_problems() == []


@pytest.mark.django_db
def test_an_unapplied_migration_fails_the_start(settings: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM django_migrations WHERE app = 'core' AND name = '0001_initial'")
    [error] = checks.connection_problems()
    assert error.id == checks.MIGRATIONS_PENDING
    assert error.msg.startswith("DATABASE_URL: 1 migration(s) not applied") and "core.0001_initial" in error.msg
    settings.CIVMIL_ENV = "production"
    assert any(p.startswith(checks.MIGRATIONS_PENDING) for p in serve.startup_problems())


@pytest.mark.django_db
def test_an_unreachable_redis_keeps_serve_and_the_worker_from_starting(settings: Any) -> None:
    from django.core.management import CommandError, call_command

    settings.CHANNEL_LAYERS = {"default": redis_channel_layer("redis://:pw@127.0.0.1:1/0")}
    [error] = checks.connection_problems()
    assert error.id == checks.REDIS_UNREACHABLE
    assert error.msg.startswith("REDIS_URL: cannot reach Redis at redis://:***@127.0.0.1:1/0")
    settings.CIVMIL_ENV = "production"
    assert any(p.startswith(checks.REDIS_UNREACHABLE) for p in serve.startup_problems())
    with pytest.raises(CommandError, match="civmil worker will not start") as refused:
        call_command("worker", "--once")
    assert "REDIS_URL" in str(refused.value)


def _civmil(tmp_path: Path, *args: str, **values: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in VARIABLES and not k.startswith("DJANGO_")}
    environ.update({"CIVMIL_VAR_DIR": str(tmp_path), **values})
    return subprocess.run([sys.executable, "-m", "civmil.config.cli", *args], env=environ, capture_output=True,
                          text=True, timeout=120, check=False)


def test_check_deploy_and_the_worker_refuse_an_unreachable_database(tmp_path: Path) -> None:
    done = _civmil(tmp_path, "check", "--deploy", DATABASE_URL=UNREACHABLE_PG)
    assert done.returncode == 1
    assert f"{checks.DATABASE_UNREACHABLE}) DATABASE_URL: cannot use the database " \
           "postgres://civmil:***@127.0.0.1:1/civmil" in done.stderr
    assert "s3cret" not in done.stderr and "Traceback" not in done.stderr
    done = _civmil(tmp_path, "worker", "--once", DATABASE_URL=UNREACHABLE_PG)
    assert done.returncode == 1 and "civmil worker will not start" in done.stderr
    assert f"{checks.DATABASE_UNREACHABLE}: DATABASE_URL: cannot use the database" in done.stderr


def test_a_missing_sqlite_file_is_not_created_but_refused(tmp_path: Path) -> None:
    missing = tmp_path / "civmil.sqlite3"
    done = _civmil(tmp_path, "worker", "--once", DATABASE_URL=f"sqlite:///{missing}")
    assert done.returncode == 1 and f"the SQLite file {missing} does not exist" in done.stderr
    assert not missing.exists()
