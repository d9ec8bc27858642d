"""Deployment settings, read from the environment in one place.

Every other module asks :func:`deployment` and never reads ``os.environ`` itself.
Secrets that are absent in development are generated once into ``var/``.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[3]
ENVIRONMENTS = ("development", "production")


@dataclass(frozen=True)
class Deployment:
    """Typed view of the deployment environment."""

    env: str
    var_dir: Path
    database_url: str
    redis_url: str
    secret_key: str
    ledger_signing_key: str
    allowed_hosts: tuple[str, ...]
    email_url: str
    host: str
    port: int
    #: Run the job worker inside the server process (None: on in development, off in production).
    embedded_worker: bool | None = None

    @property
    def production(self) -> bool:
        return self.env == "production"


def _read_or_create_secret(path: Path, factory: str) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    if factory == "ed25519":
        from nacl.encoding import HexEncoder
        from nacl.signing import SigningKey

        value = SigningKey.generate().encode(encoder=HexEncoder).decode()
    else:
        value = secrets.token_urlsafe(50)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value


def _flag(name: str) -> bool | None:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return None
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be true or false, not {value!r}")


def _port(value: str) -> int:
    if not value.strip().isdigit() or not 0 < int(value) < 65536:
        raise ValueError(f"PORT must be a number from 1 to 65535, not {value!r}")
    return int(value)


@cache
def deployment() -> Deployment:
    """Read the environment once. Raises ``ValueError`` on a setting that cannot be used."""
    env = os.environ.get("CIVMIL_ENV", "development").strip() or "development"
    if env not in ENVIRONMENTS:
        raise ValueError(f"CIVMIL_ENV must be one of {ENVIRONMENTS}, not {env!r}")
    var_dir = Path(os.environ.get("CIVMIL_VAR_DIR", PROJECT_ROOT / "var")).resolve()
    production = env == "production"
    secret_key = os.environ.get("SECRET_KEY", "")
    if not secret_key:
        if production:
            raise ValueError("SECRET_KEY must be set when CIVMIL_ENV=production")
        secret_key = _read_or_create_secret(var_dir / "secret_key", "token")
    signing_key = os.environ.get("CIVMIL_LEDGER_SIGNING_KEY", "")
    if not signing_key:
        signing_key = _read_or_create_secret(var_dir / "ledger_signing_key", "ed25519")
    hosts = os.environ.get("ALLOWED_HOSTS", "" if production else "127.0.0.1,localhost,testserver")
    return Deployment(
        env=env,
        var_dir=var_dir,
        database_url=os.environ.get("DATABASE_URL", f"sqlite:///{var_dir / 'civmil.sqlite3'}"),
        redis_url=os.environ.get("REDIS_URL", ""),
        secret_key=secret_key,
        ledger_signing_key=signing_key,
        allowed_hosts=tuple(h.strip() for h in hosts.split(",") if h.strip()),
        email_url=os.environ.get("EMAIL_URL", "console://" if not production else ""),
        host=os.environ.get("HOST", "127.0.0.1"),
        port=_port(os.environ.get("PORT", "8000")),
        embedded_worker=_flag("CIVMIL_EMBEDDED_WORKER"),
    )
