from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from civmil.config import env

VARIABLES = ("CIVMIL_ENV", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS", "EMAIL_URL",
             "CIVMIL_LEDGER_SIGNING_KEY", "PORT", "HOST", "SECRET_KEY_FALLBACKS", "CIVMIL_EMAIL_FROM",
             "CIVMIL_SERVER_EMAIL", "CIVMIL_ADMINS", "CIVMIL_LOG_FORMAT", "CIVMIL_LOG_LEVEL", "CIVMIL_METRICS_TOKEN",
             "CIVMIL_EMBEDDED_WORKER", "CIVMIL_DEBUG", "CIVMIL_WEB_PROCESSES", "CIVMIL_WEB_THREADS",
             "CIVMIL_DB_POOL_SIZE", "CIVMIL_LIVE_RELAY")


def _read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **values: str) -> env.Deployment:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CIVMIL_VAR_DIR", str(tmp_path))
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return env.deployment.__wrapped__()  # type: ignore[attr-defined,no-any-return]


def _production(**values: str) -> dict[str, str]:
    """What docs/deploy/civmil.env.example sets, with ``values`` over it."""
    return {"CIVMIL_ENV": "production", "SECRET_KEY": STRONG_KEY, "ALLOWED_HOSTS": "civmil.mission.example",
            "EMAIL_URL": "submission://civmil%40mission.example:pw@smtp.mission.example:587",
            "CIVMIL_EMAIL_FROM": "civmil <no-reply@mission.example>", **values}


def _refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **values: str) -> env.EnvironmentProblem:
    with pytest.raises(env.EnvironmentProblem) as refused:
        _read(monkeypatch, tmp_path, **values)
    assert str(refused.value).startswith(refused.value.variable + ": ")
    return refused.value


def test_development_generates_its_secrets_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    first = _read(monkeypatch, tmp_path)
    second = _read(monkeypatch, tmp_path)
    assert first.secret_key == second.secret_key and len(first.secret_key) > 40
    assert len(first.ledger_signing_key) == 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert first.database_url.startswith("sqlite:///") and first.port == 8000


def test_production_requires_a_secret_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert _refused(monkeypatch, tmp_path, **_production(SECRET_KEY="")).variable == "SECRET_KEY"
    prod = _read(monkeypatch, tmp_path, **_production())
    assert prod.production and prod.allowed_hosts == ("civmil.mission.example",)
    assert prod.email_from == "civmil <no-reply@mission.example>" == prod.server_email


STRONG_KEY = "q8Vb3_Zt-Lm0pXw7RkYc2NfHdJ9sGa4TuE1oWiQy6BvCn5KrMzPe"  # 52 characters, all different


@pytest.mark.parametrize(("key", "reason"), [
    ("x" * 60, "different characters"),
    ("ab" * 40, "different characters"),
    ("0123456789" * 6, "predictable"),
    ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", "predictable"),
    ("short-but-random-Q8vB3zT", "characters; at least 50"),
    ("django-insecure-" + STRONG_KEY, "django-insecure"),
    ("change-me-to-a-long-random-string", "example"),  # docs/deploy/civmil.env.example
    ("change-me-" + STRONG_KEY, "example"),
])
def test_production_refuses_to_start_with_a_weak_secret_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                            key: str, reason: str) -> None:
    with pytest.raises(ValueError, match="SECRET_KEY: too weak") as refused:
        _read(monkeypatch, tmp_path, **_production(SECRET_KEY=key))
    assert reason in str(refused.value)
    assert key not in str(refused.value)  # the message never repeats the secret
    # Development keeps running with whatever it is given.
    assert _read(monkeypatch, tmp_path, SECRET_KEY=key).secret_key == key


def test_a_generated_key_is_strong_enough(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import secrets

    for _ in range(20):
        key = secrets.token_urlsafe(50)
        assert env.secret_key_weakness(key) is None, key
        assert _read(monkeypatch, tmp_path, **_production(SECRET_KEY=key)).secret_key == key
    assert env.secret_key_weakness(secrets.token_hex(32)) is None


def test_unknown_environment_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="CIVMIL_ENV"):
        _read(monkeypatch, tmp_path, CIVMIL_ENV="staging")


def test_values_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    d = _read(monkeypatch, tmp_path, PORT="9001", HOST="10.0.0.5", ALLOWED_HOSTS="a.example, b.example",
              REDIS_URL="redis://127.0.0.1:6379/1")
    assert d.port == 9001 and d.host == "10.0.0.5"
    assert d.allowed_hosts == ("a.example", "b.example") and d.redis_url.endswith("/1")


# -- a clear refusal for every variable that is missing or wrong ---------------------------------------

@pytest.mark.parametrize(("values", "variable", "says"), [
    ({"CIVMIL_ENV": "staging"}, "CIVMIL_ENV", "development or production"),
    ({"DATABASE_URL": "mysql://civmil@db/civmil"}, "DATABASE_URL", "not a SQLite or PostgreSQL URL"),
    ({"DATABASE_URL": "civmil.sqlite3"}, "DATABASE_URL", "not a SQLite or PostgreSQL URL"),
    ({"DATABASE_URL": "postgres://civmil:p#ss@db:5432/civmil"}, "DATABASE_URL", "percent-encoded"),
    ({"DATABASE_URL": "postgres://civmil@db:port/civmil"}, "DATABASE_URL", "not a valid URL"),
    ({"DATABASE_URL": "postgres://civmil@db:5432"}, "DATABASE_URL", "names no database"),
    ({"REDIS_URL": "http://127.0.0.1:6379"}, "REDIS_URL", "redis://"),
    ({"REDIS_URL": "redis://127.0.0.1:port/0"}, "REDIS_URL", "not a number"),
    ({"REDIS_URL": "redis://127.0.0.1:6379/channels"}, "REDIS_URL", "the database is a number"),
    ({"REDIS_URL": "redis://"}, "REDIS_URL", "names no host"),
    ({"EMAIL_URL": "mailto://ops@mission.example"}, "EMAIL_URL", "must start with one of"),
    ({"EMAIL_URL": "smtp://mail.example:twentyfive"}, "EMAIL_URL", "not a number"),
    ({"PORT": "80a"}, "PORT", "1 to 65535"),
    ({"PORT": "70000"}, "PORT", "1 to 65535"),
    ({"CIVMIL_EMBEDDED_WORKER": "perhaps"}, "CIVMIL_EMBEDDED_WORKER", "true or false"),
    ({"CIVMIL_LOG_FORMAT": "xml"}, "CIVMIL_LOG_FORMAT", "text, json"),
    ({"CIVMIL_LOG_LEVEL": "loud"}, "CIVMIL_LOG_LEVEL", "DEBUG, INFO"),
    ({"CIVMIL_METRICS_TOKEN": "short"}, "CIVMIL_METRICS_TOKEN", "at least 32"),
    ({"CIVMIL_LEDGER_SIGNING_KEY": "not-hex"}, "CIVMIL_LEDGER_SIGNING_KEY", "64 hexadecimal"),
    ({"CIVMIL_EMAIL_FROM": "no-reply"}, "CIVMIL_EMAIL_FROM", "not one e-mail address"),
    ({"CIVMIL_SERVER_EMAIL": "a@x.example, b@x.example"}, "CIVMIL_SERVER_EMAIL", "not one e-mail address"),
    ({"CIVMIL_ADMINS": "Ops Desk <ops@mission.example>, nobody"}, "CIVMIL_ADMINS", "Name <addr@domain>"),
])
def test_a_wrong_variable_is_refused_by_name(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                             values: dict[str, str], variable: str, says: str) -> None:
    problem = _refused(monkeypatch, tmp_path, **values)
    assert problem.variable == variable and says in problem.problem


def test_a_database_password_never_appears_in_the_refusal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for url in ("mysql://civmil:s3cret-pw@db/civmil", "postgres://civmil:s3cret#pw@db/civmil",
                "redis://:s3cret/pw@127.0.0.1:6379/0"):
        problem = _refused(monkeypatch, tmp_path, **{"REDIS_URL" if url.startswith("redis") else "DATABASE_URL": url})
        assert "s3cret" not in str(problem) and ":***@" in str(problem)


@pytest.mark.parametrize(("values", "variable"), [
    ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS"),
    ({"EMAIL_URL": ""}, "EMAIL_URL"),
    ({"EMAIL_URL": "console://"}, "EMAIL_URL"),
    ({"EMAIL_URL": "locmem://"}, "EMAIL_URL"),
    ({"EMAIL_URL": "file:///var/lib/civmil/mail"}, "EMAIL_URL"),
    ({"CIVMIL_EMAIL_FROM": ""}, "CIVMIL_EMAIL_FROM"),
    ({"SECRET_KEY_FALLBACKS": "change-me"}, "SECRET_KEY_FALLBACKS"),
])
def test_production_refuses_what_development_accepts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                     values: dict[str, str], variable: str) -> None:
    assert _refused(monkeypatch, tmp_path, **_production(**values)).variable == variable
    development = {k: v for k, v in _production(**values).items() if k not in ("CIVMIL_ENV", "SECRET_KEY")}
    _read(monkeypatch, tmp_path, **development)


def test_production_needs_its_own_var_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in _production().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CIVMIL_VAR_DIR", raising=False)
    with pytest.raises(env.EnvironmentProblem, match="CIVMIL_VAR_DIR: must be set"):
        env.deployment.__wrapped__()  # type: ignore[attr-defined]


def test_e_mail_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    d = _read(monkeypatch, tmp_path, **_production(
        CIVMIL_SERVER_EMAIL="civmil errors <errors@mission.example>",
        CIVMIL_ADMINS="Ops Desk <ops@mission.example>, fts@mission.example"))
    assert d.server_email == "civmil errors <errors@mission.example>"
    assert d.admins == (("Ops Desk", "ops@mission.example"), ("fts@mission.example", "fts@mission.example"))
    backend = env.email_backend(d.email_url)
    assert backend["EMAIL_HOST"] == "smtp.mission.example" and backend["EMAIL_PORT"] == 587
    assert backend["EMAIL_HOST_USER"] == "civmil@mission.example" and backend["EMAIL_USE_TLS"]
    assert env.email_backend("smtps://mail.example")["EMAIL_PORT"] == 465
    assert env.email_backend("file:///tmp/mail")["EMAIL_FILE_PATH"] == "/tmp/mail"
    development = _read(monkeypatch, tmp_path)
    assert development.email_url == "console://" and development.email_from.endswith("@civmil.invalid>")


def test_secret_key_fallbacks_keep_former_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import secrets

    old = [secrets.token_urlsafe(50), secrets.token_urlsafe(50)]
    d = _read(monkeypatch, tmp_path, **_production(SECRET_KEY_FALLBACKS=f" {old[0]} ,{old[1]},"))
    assert d.secret_key_fallbacks == tuple(old)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads every file")
def test_unreadable_key_files_are_refused_by_name(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _read(monkeypatch, tmp_path)  # generates both keys
    (tmp_path / "ledger_signing_key").chmod(0)
    assert _refused(monkeypatch, tmp_path).variable == "CIVMIL_LEDGER_SIGNING_KEY"


def test_a_key_file_that_cannot_be_read_is_refused_by_name(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """As root every file is readable: a key path that is a directory, or an empty key file, stands in."""
    (tmp_path / "secret_key").mkdir()
    problem = _refused(monkeypatch, tmp_path)
    assert problem.variable == "SECRET_KEY" and str(tmp_path / "secret_key") in problem.problem
    (tmp_path / "secret_key").rmdir()
    _read(monkeypatch, tmp_path)
    (tmp_path / "ledger_signing_key").write_text("\n")
    problem = _refused(monkeypatch, tmp_path)
    assert problem.variable == "CIVMIL_LEDGER_SIGNING_KEY" and "is empty" in problem.problem
    (tmp_path / "ledger_signing_key").write_text("garbage\n")
    assert "does not hold an Ed25519 seed" in _refused(monkeypatch, tmp_path).problem


def test_a_var_dir_that_is_a_file_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    problem = _refused(monkeypatch, tmp_path / "file")
    assert problem.variable == "CIVMIL_VAR_DIR" and "not a directory" in problem.problem


def _civmil(*args: str, **values: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in VARIABLES and not k.startswith("DJANGO_")}
    return subprocess.run([sys.executable, "-m", "civmil.config.cli", *args], env={**environ, **values},
                          capture_output=True, text=True, timeout=60, check=False)


def test_civmil_refuses_a_wrong_variable_in_one_line_without_a_traceback(tmp_path: Path) -> None:
    done = _civmil("check", CIVMIL_VAR_DIR=str(tmp_path), DATABASE_URL="mysql://civmil@db/civmil")
    assert done.returncode == 1 and done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith("civmil: DATABASE_URL: 'mysql://civmil@db/civmil' is not a SQLite or PostgreSQL URL")
    done = _civmil("help", CIVMIL_VAR_DIR=str(tmp_path), **_production(EMAIL_URL="console://"))
    assert done.returncode == 1 and done.stderr.startswith("civmil: EMAIL_URL: console:// delivers no mail")
    assert "Traceback" not in done.stderr


def test_debug_mode_only_when_a_developer_asks_and_never_in_production(monkeypatch: pytest.MonkeyPatch,
                                                                      tmp_path: Path) -> None:
    assert _read(monkeypatch, tmp_path).debug is False  # `make run` serves demos and training rooms
    assert _read(monkeypatch, tmp_path, CIVMIL_DEBUG="true").debug is True
    assert _refused(monkeypatch, tmp_path, **_production(CIVMIL_DEBUG="true")).variable == "CIVMIL_DEBUG"


def test_server_processes_threads_and_pool_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path) -> None:
    default = _read(monkeypatch, tmp_path)
    assert default.web_processes == env.cores() and default.web_threads == 4 and default.db_pool_size == 8
    chosen = _read(monkeypatch, tmp_path, CIVMIL_WEB_PROCESSES="3", CIVMIL_WEB_THREADS="2", CIVMIL_DB_POOL_SIZE="5")
    assert (chosen.web_processes, chosen.web_threads, chosen.db_pool_size) == (3, 2, 5)
    for name, value in (("CIVMIL_WEB_PROCESSES", "0"), ("CIVMIL_WEB_THREADS", "many"), ("CIVMIL_DB_POOL_SIZE", "-1")):
        assert _refused(monkeypatch, tmp_path, **{name: value}).variable == name
