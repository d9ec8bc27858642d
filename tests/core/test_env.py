from __future__ import annotations

from pathlib import Path

import pytest

from civmil.config import env


def _read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **values: str) -> env.Deployment:
    for name in ("CIVMIL_ENV", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS", "EMAIL_URL",
                 "CIVMIL_LEDGER_SIGNING_KEY", "PORT", "HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CIVMIL_VAR_DIR", str(tmp_path))
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return env.deployment.__wrapped__()  # type: ignore[attr-defined,no-any-return]


def test_development_generates_its_secrets_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    first = _read(monkeypatch, tmp_path)
    second = _read(monkeypatch, tmp_path)
    assert first.secret_key == second.secret_key and len(first.secret_key) > 40
    assert len(first.ledger_signing_key) == 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert first.database_url.startswith("sqlite:///") and first.port == 8000


def test_production_requires_a_secret_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="SECRET_KEY"):
        _read(monkeypatch, tmp_path, CIVMIL_ENV="production")
    prod = _read(monkeypatch, tmp_path, CIVMIL_ENV="production", SECRET_KEY=STRONG_KEY)
    assert prod.production and prod.allowed_hosts == ()


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
    with pytest.raises(ValueError, match="SECRET_KEY is too weak") as refused:
        _read(monkeypatch, tmp_path, CIVMIL_ENV="production", SECRET_KEY=key)
    assert reason in str(refused.value)
    assert key not in str(refused.value)  # the message never repeats the secret
    # Development keeps running with whatever it is given.
    assert _read(monkeypatch, tmp_path, SECRET_KEY=key).secret_key == key


def test_a_generated_key_is_strong_enough(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import secrets

    for _ in range(20):
        key = secrets.token_urlsafe(50)
        assert env.secret_key_weakness(key) is None, key
        assert _read(monkeypatch, tmp_path, CIVMIL_ENV="production", SECRET_KEY=key).secret_key == key
    assert env.secret_key_weakness(secrets.token_hex(32)) is None


def test_unknown_environment_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="CIVMIL_ENV"):
        _read(monkeypatch, tmp_path, CIVMIL_ENV="staging")


def test_values_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    d = _read(monkeypatch, tmp_path, PORT="9001", HOST="10.0.0.5", ALLOWED_HOSTS="a.example, b.example",
              REDIS_URL="redis://127.0.0.1:6379/1")
    assert d.port == 9001 and d.host == "10.0.0.5"
    assert d.allowed_hosts == ("a.example", "b.example") and d.redis_url.endswith("/1")
