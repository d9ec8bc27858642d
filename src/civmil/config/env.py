"""Deployment settings, read from the environment in one place.

Every other module asks :func:`deployment` and never reads ``os.environ`` itself.
Secrets that are absent in development are generated once into ``var/``.
"""

from __future__ import annotations

import itertools
import math
import os
import secrets
import zlib
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[3]
ENVIRONMENTS = ("development", "production")

#: A production ``SECRET_KEY`` is at least this long, ...
SECRET_KEY_MIN_LENGTH = 50
#: ... made of at least this many different characters, ...
SECRET_KEY_MIN_DISTINCT = 10
#: ... and carries at least this much entropy (bits, estimated from its character frequencies).
SECRET_KEY_MIN_BITS = 160
#: Values published as examples (Django's, ours, tutorials'); refused whatever their length.
KNOWN_EXAMPLE_SECRET_KEYS = frozenset({
    "change-me-to-a-long-random-string",
    "changeme", "change-me", "change_me", "secret", "secret-key", "secret_key", "your-secret-key",
    "your-secret-key-here", "django-insecure", "insecure", "development", "dev", "test", "example",
})
#: Words that mark a placeholder left in place (``change-me-…``), refused inside any value.
_PLACEHOLDER_WORDS = ("changeme", "change-me", "change_me", "replace-me", "replaceme", "your-secret")


def secret_key_weakness(value: str) -> str | None:
    """Why ``value`` is too weak to sign production sessions and tokens, or ``None`` if it is not."""
    folded = value.strip().lower()
    if folded.startswith("django-insecure-"):
        return "it is a key Django generated for development ('django-insecure-' prefix)"
    if folded in KNOWN_EXAMPLE_SECRET_KEYS or any(word in folded for word in _PLACEHOLDER_WORDS):
        return "it is a published example value"
    if len(value) < SECRET_KEY_MIN_LENGTH:
        return f"it has {len(value)} characters; at least {SECRET_KEY_MIN_LENGTH} are needed"
    counts = Counter(value)
    if len(counts) < SECRET_KEY_MIN_DISTINCT:
        return f"it uses only {len(counts)} different characters; at least {SECRET_KEY_MIN_DISTINCT} are needed"
    bits = -sum(n * math.log2(n / len(value)) for n in counts.values())
    if bits < SECRET_KEY_MIN_BITS:
        return f"it is too predictable (about {bits:.0f} bits of entropy; at least {SECRET_KEY_MIN_BITS} are needed)"
    raw = value.encode("utf-8")
    steps = sum(1 for a, b in itertools.pairwise(value) if abs(ord(b) - ord(a)) == 1)
    if len(zlib.compress(raw, 9)) * 2 < len(raw) or steps * 3 > len(value):
        return "it is too predictable (it repeats a pattern or runs through a sequence of characters)"
    return None


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
    #: Ask browsers' HSTS preload lists to include the domain (CIVMIL_HSTS_PRELOAD; off by default).
    hsts_preload: bool = False

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
    elif production and (weakness := secret_key_weakness(secret_key)):
        raise ValueError(
            f"SECRET_KEY is too weak for CIVMIL_ENV=production: {weakness}. Generate one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'` and set it in the environment."
        )
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
        hsts_preload=bool(_flag("CIVMIL_HSTS_PRELOAD")),
    )


#: Seconds a Redis read may wait. channels_redis blocks 5 s in BZPOPMIN for each receive, and
#: redis-py 8 made 5 s its default socket timeout too, so every quiet connection's read timed out
#: and the live socket dropped (redis-py 4091, channels_redis 422). A margin above the block
#: keeps quiet connections open while a dead Redis is still noticed.
REDIS_SOCKET_TIMEOUT = 15
REDIS_CONNECT_TIMEOUT = 5


def redis_channel_layer(url: str, **config: object) -> dict[str, object]:
    """The Channels layer on Redis at ``url`` (with extra ``config`` such as ``prefix``)."""
    host = {"address": url, "socket_timeout": REDIS_SOCKET_TIMEOUT,
            "socket_connect_timeout": REDIS_CONNECT_TIMEOUT}
    return {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [host], **config}}
