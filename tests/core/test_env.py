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
    prod = _read(monkeypatch, tmp_path, CIVMIL_ENV="production", SECRET_KEY="x" * 60)
    assert prod.production and prod.allowed_hosts == ()


def test_unknown_environment_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="CIVMIL_ENV"):
        _read(monkeypatch, tmp_path, CIVMIL_ENV="staging")


def test_values_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    d = _read(monkeypatch, tmp_path, PORT="9001", HOST="10.0.0.5", ALLOWED_HOSTS="a.example, b.example",
              REDIS_URL="redis://127.0.0.1:6379/1")
    assert d.port == 9001 and d.host == "10.0.0.5"
    assert d.allowed_hosts == ("a.example", "b.example") and d.redis_url.endswith("/1")
