"""Deployment settings, read from the environment in one place.

Every other module asks :func:`deployment` and never reads ``os.environ`` itself.
Secrets that are absent in development are generated once into ``var/``.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import secrets
import zlib
from collections import Counter
from dataclasses import dataclass
from email.utils import getaddresses, parseaddr
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from civmil.core.redact import shown_url

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


class EnvironmentProblem(ValueError):
    """An environment variable that is missing or cannot be used: ``VARIABLE: what is wrong``.

    ``civmil`` prints it as one line and exits 1 (:mod:`civmil.config.cli`); never a traceback.
    """

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


def _get(name: str) -> str:
    """The variable's value without surrounding blanks; empty when unset (``NAME=`` is unset too)."""
    return os.environ.get(name, "").strip()


#: Database URL schemes civmil runs on (dj-database-url's names for SQLite and PostgreSQL).
DATABASE_SCHEMES = ("sqlite", "postgres", "postgresql", "pgsql")
REDIS_SCHEMES = ("redis", "rediss", "unix")
#: EMAIL_URL schemes and the Django backend of each; only the SMTP ones deliver mail.
EMAIL_BACKENDS = {
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "smtps": "django.core.mail.backends.smtp.EmailBackend",
    "submission": "django.core.mail.backends.smtp.EmailBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
    "locmem": "django.core.mail.backends.locmem.EmailBackend",
    "dummy": "django.core.mail.backends.dummy.EmailBackend",
    "file": "django.core.mail.backends.filebased.EmailBackend",
}
DELIVERING_EMAIL_SCHEMES = ("smtp", "smtps", "submission")
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
#: A metrics bearer token is at least this long (``secrets.token_urlsafe(32)`` gives 43 characters).
METRICS_TOKEN_MIN_LENGTH = 32
_ADDRESS = re.compile(r"^[^@\s<>,]+@[^@\s<>,]+\.[^@\s<>,]+$")


def check_database_url(url: str) -> None:
    """Refuse a DATABASE_URL civmil cannot use (not SQLite or PostgreSQL, unparsable, no database)."""
    import dj_database_url

    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in DATABASE_SCHEMES:
        raise EnvironmentProblem("DATABASE_URL", (
            f"{shown_url(url)!r} is not a SQLite or PostgreSQL URL; use postgres://user:password@host:5432/name "
            "or sqlite:////absolute/path/civmil.sqlite3"))
    try:
        parsed = dj_database_url.parse(url)
    except ValueError:
        raise EnvironmentProblem("DATABASE_URL", (
            f"{shown_url(url)!r} is not a valid URL (a port that is not a number, or a password with "
            "characters such as @ / : # not percent-encoded: @ is %40)")) from None
    if not parsed.get("NAME"):
        raise EnvironmentProblem("DATABASE_URL", f"{shown_url(url)!r} names no database (…/name at its end)")


def check_redis_url(url: str) -> None:
    """Refuse a REDIS_URL that redis-py would not accept."""
    parsed = urlparse(url)
    if parsed.scheme not in REDIS_SCHEMES:
        raise EnvironmentProblem("REDIS_URL", (
            f"{shown_url(url)!r} must start with redis://, rediss:// or unix:// (e.g. redis://127.0.0.1:6379/0)"))
    try:
        parsed.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise EnvironmentProblem("REDIS_URL", f"{shown_url(url)!r} has a port that is not a number") from None
    if parsed.scheme == "unix":
        if not parsed.path:
            raise EnvironmentProblem("REDIS_URL", f"{shown_url(url)!r} names no socket (unix:///run/redis/redis.sock)")
        return
    if not parsed.hostname:
        raise EnvironmentProblem("REDIS_URL", f"{shown_url(url)!r} names no host (redis://127.0.0.1:6379/0)")
    db = parsed.path.strip("/")
    if db and not db.isdigit():
        raise EnvironmentProblem("REDIS_URL", f"{shown_url(url)!r} ends with {db!r}; the database is a number (/0)")


def email_backend(url: str) -> dict[str, Any]:
    """Django's e-mail settings for EMAIL_URL (``smtp://``, ``submission://`` (STARTTLS), ``smtps://``;
    ``console://``, ``locmem://``, ``dummy://`` or ``file:///dir`` for development)."""
    parsed = urlparse(url)
    if parsed.scheme not in EMAIL_BACKENDS:
        raise EnvironmentProblem("EMAIL_URL", (
            f"{shown_url(url)!r} must start with one of {', '.join(s + '://' for s in EMAIL_BACKENDS)}"))
    try:
        port = parsed.port
    except ValueError:
        raise EnvironmentProblem("EMAIL_URL", f"{shown_url(url)!r} has a port that is not a number") from None
    settings: dict[str, Any] = {"EMAIL_BACKEND": EMAIL_BACKENDS[parsed.scheme]}
    if parsed.scheme == "file":
        if not parsed.path:
            raise EnvironmentProblem("EMAIL_URL", "file:// needs a directory: file:///var/lib/civmil/mail")
        settings["EMAIL_FILE_PATH"] = unquote(parsed.path)
    if parsed.scheme in DELIVERING_EMAIL_SCHEMES:
        if not parsed.hostname:
            raise EnvironmentProblem("EMAIL_URL", f"{shown_url(url)!r} names no mail server")
        default_port = {"smtp": 25, "smtps": 465, "submission": 587}[parsed.scheme]
        settings.update({
            "EMAIL_HOST": parsed.hostname,
            "EMAIL_PORT": port or default_port,
            "EMAIL_HOST_USER": unquote(parsed.username or ""),
            "EMAIL_HOST_PASSWORD": unquote(parsed.password or ""),
            "EMAIL_USE_SSL": parsed.scheme == "smtps",
            "EMAIL_USE_TLS": parsed.scheme == "submission",
            "EMAIL_TIMEOUT": 30,
        })
    return settings


def _address(variable: str, value: str) -> str:
    """One sender address, ``Name <addr@domain>`` or ``addr@domain``, as given."""
    addr = parseaddr(value)[1]
    if not _ADDRESS.match(addr) or "," in value:
        raise EnvironmentProblem(variable, f"{value!r} is not one e-mail address "
                                           "(e.g. civmil <no-reply@mission.example>)")
    return value


def _admins(value: str) -> tuple[tuple[str, str], ...]:
    """``Name <addr>, Other <addr2>`` as Django's ADMINS: (name, address) pairs."""
    admins = []
    for name, addr in getaddresses([value]):
        if not _ADDRESS.match(addr):
            raise EnvironmentProblem("CIVMIL_ADMINS", (
                f"{value!r} is not a list of addresses: write 'Name <addr@domain>, Other Name <addr2@domain>'"))
        admins.append((name or addr, addr))
    return tuple(admins)


def _choice(name: str, default: str, choices: tuple[str, ...], *, fold: Any = str.lower) -> str:
    value = fold(_get(name)) or default
    if value not in choices:
        raise EnvironmentProblem(name, f"must be one of {', '.join(choices)}, not {_get(name)!r}")
    return str(value)


def _metrics_token() -> str:
    token = _get("CIVMIL_METRICS_TOKEN")
    if token and (len(token) < METRICS_TOKEN_MIN_LENGTH or any(c.isspace() for c in token)):
        raise EnvironmentProblem("CIVMIL_METRICS_TOKEN", (
            f"must be at least {METRICS_TOKEN_MIN_LENGTH} characters without spaces; generate one with "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"))
    return token


def _fallback_keys(production: bool) -> tuple[str, ...]:
    keys = tuple(k.strip() for k in _get("SECRET_KEY_FALLBACKS").split(",") if k.strip())
    for number, key in enumerate(keys, start=1):
        if production and (weakness := secret_key_weakness(key)):
            raise EnvironmentProblem("SECRET_KEY_FALLBACKS", f"key {number} is too weak: {weakness}")
    return keys


def _user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        return str(os.geteuid()) if hasattr(os, "geteuid") else "this user"


def _var_dir(production: bool) -> Path:
    """CIVMIL_VAR_DIR, created when missing; it must be a directory this user may read and write."""
    raw = _get("CIVMIL_VAR_DIR")
    if not raw and production:
        raise EnvironmentProblem("CIVMIL_VAR_DIR", (
            "must be set when CIVMIL_ENV=production: the service's data directory (e.g. /var/lib/civmil)"))
    path = Path(raw or PROJECT_ROOT / "var").resolve()
    if path.exists() and not path.is_dir():
        raise EnvironmentProblem("CIVMIL_VAR_DIR", f"{path} is not a directory")
    if not path.exists():
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EnvironmentProblem("CIVMIL_VAR_DIR", f"cannot create {path}: {exc.strerror}") from None
    if not os.access(path, os.R_OK | os.W_OK | os.X_OK):
        raise EnvironmentProblem("CIVMIL_VAR_DIR", (
            f"{path} is not readable and writable by {_user()}: run civmil as the service user, or give the "
            f"directory to it (chown -R civmil: {path})"))
    trusted = path / "ledger_trusted_keys"
    if trusted.exists() and not os.access(trusted, os.R_OK):
        raise EnvironmentProblem("CIVMIL_VAR_DIR", f"{trusted} is not readable by {_user()} (chown civmil: {trusted})")
    return path


_HEX_SEED = re.compile(r"^[0-9a-fA-F]{64}$")


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
    #: Server processes ``civmil serve`` runs on HOST:PORT (default: one per core).
    web_processes: int = 1
    #: Requests one server process works on at once (civmil.core.concurrency).
    web_threads: int = 4
    #: Largest number of PostgreSQL connections one process keeps in its pool.
    db_pool_size: int = 8
    #: Set by ``civmil serve`` for the processes it starts when it runs several without Redis:
    #: live messages cross them through the database (civmil.core.events.relay).
    live_relay: bool = False
    #: Django's debug mode: tracebacks in the browser, every SQL query recorded. For developers
    #: only (CIVMIL_DEBUG=true); never in production.
    debug: bool = False
    #: Former SECRET_KEYs still accepted for signatures made before a rotation (SECRET_KEY_FALLBACKS).
    secret_key_fallbacks: tuple[str, ...] = ()
    #: Sender of civmil's mail (CIVMIL_EMAIL_FROM), of error mail to the admins (CIVMIL_SERVER_EMAIL).
    email_from: str = "civmil <no-reply@civmil.invalid>"
    server_email: str = "civmil <no-reply@civmil.invalid>"
    #: Who receives error reports by mail: (name, address) pairs (CIVMIL_ADMINS).
    admins: tuple[tuple[str, str], ...] = ()
    #: Log lines as text or one JSON object each (CIVMIL_LOG_FORMAT), from this level (CIVMIL_LOG_LEVEL).
    log_format: str = "text"
    log_level: str = "INFO"
    #: Bearer token that opens /metrics to other hosts (CIVMIL_METRICS_TOKEN; empty: loopback only).
    metrics_token: str = ""
    #: The offline basemap every map draws (CIVMIL_BASEMAP; default <var>/basemap.pmtiles): built by
    #: ``civmil basemap build`` or a PMTiles extract the mission drops in (docs/basemap.md).
    basemap: Path | None = None

    @property
    def production(self) -> bool:
        return self.env == "production"


def _read_or_create_secret(path: Path, factory: str, variable: str) -> str:
    """The secret kept in ``path``, generated (mode 0600) when the file does not exist yet."""
    try:
        if path.exists():
            value = path.read_text(encoding="utf-8").strip()
            if not value:
                raise EnvironmentProblem(variable, f"{path} is empty; remove it to have a new key generated, "
                                                   "or restore it from a backup")
            return value
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
    except PermissionError:
        raise EnvironmentProblem(variable, (
            f"cannot read {path}: permission denied for {_user()}; run civmil as the service user, or give "
            f"the file to it (chown civmil: {path})")) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a text file"
        raise EnvironmentProblem(variable, f"cannot read {path}: {reason}") from None


def _flag(name: str) -> bool | None:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return None
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise EnvironmentProblem(name, f"must be true or false, not {value!r}")


def _count(name: str, default: int, *, most: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or not 1 <= int(value) <= most:
        raise EnvironmentProblem(name, f"must be a whole number from 1 to {most}, not {value!r}")
    return int(value)


def _debug(production: bool) -> bool:
    debug = bool(_flag("CIVMIL_DEBUG"))
    if debug and production:
        raise EnvironmentProblem("CIVMIL_DEBUG", "debug mode shows tracebacks and settings to anyone; it cannot "
                                 "be on when CIVMIL_ENV=production")
    return debug


def cores() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _port(value: str) -> int:
    if not value.strip().isdigit() or not 0 < int(value) < 65536:
        raise EnvironmentProblem("PORT", f"must be a number from 1 to 65535, not {value!r}")
    return int(value)


@cache
def deployment() -> Deployment:
    """Read the environment once.

    Raises :class:`EnvironmentProblem` (a ``ValueError``) naming the first variable that is
    missing or cannot be used.
    """
    env = _get("CIVMIL_ENV") or "development"
    if env not in ENVIRONMENTS:
        raise EnvironmentProblem("CIVMIL_ENV", f"must be development or production, not {env!r}")
    production = env == "production"
    var_dir = _var_dir(production)
    secret_key = os.environ.get("SECRET_KEY", "")
    if not secret_key:
        if production:
            raise EnvironmentProblem("SECRET_KEY", (
                "must be set when CIVMIL_ENV=production; generate one with "
                "python3 -c 'import secrets; print(secrets.token_urlsafe(50))'"))
        secret_key = _read_or_create_secret(var_dir / "secret_key", "token", "SECRET_KEY")
    elif production and (weakness := secret_key_weakness(secret_key)):
        raise EnvironmentProblem("SECRET_KEY", (
            f"too weak for CIVMIL_ENV=production: {weakness}. Generate one with "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(50))' and set it in the environment"))
    signing_key = _get("CIVMIL_LEDGER_SIGNING_KEY")
    if signing_key:
        if not _HEX_SEED.match(signing_key):
            raise EnvironmentProblem("CIVMIL_LEDGER_SIGNING_KEY",
                                     "must be an Ed25519 seed of 64 hexadecimal characters")
    else:
        key_file = var_dir / "ledger_signing_key"
        signing_key = _read_or_create_secret(key_file, "ed25519", "CIVMIL_LEDGER_SIGNING_KEY")
        if not _HEX_SEED.match(signing_key):
            raise EnvironmentProblem("CIVMIL_LEDGER_SIGNING_KEY", (
                f"{key_file} does not hold an Ed25519 seed of 64 hexadecimal characters"))
    hosts = _get("ALLOWED_HOSTS") or ("" if production else "127.0.0.1,localhost,testserver")
    allowed_hosts = tuple(h.strip() for h in hosts.split(",") if h.strip())
    if production and not allowed_hosts:
        raise EnvironmentProblem("ALLOWED_HOSTS", (
            "must list the site's host names when CIVMIL_ENV=production (e.g. civmil.mission.example)"))
    database_url = _get("DATABASE_URL") or f"sqlite:///{var_dir / 'civmil.sqlite3'}"
    check_database_url(database_url)
    redis_url = _get("REDIS_URL")
    if redis_url:
        check_redis_url(redis_url)
    email_url = _get("EMAIL_URL") or ("" if production else "console://")
    if production and not email_url:
        raise EnvironmentProblem("EMAIL_URL", (
            "must be set when CIVMIL_ENV=production: the mission's mail server, e.g. "
            "submission://user:password@smtp.mission.example:587"))
    email_backend(email_url)
    if production and urlparse(email_url).scheme not in DELIVERING_EMAIL_SCHEMES:
        raise EnvironmentProblem("EMAIL_URL", (
            f"{urlparse(email_url).scheme}:// delivers no mail; CIVMIL_ENV=production needs smtp://, "
            "submission:// or smtps://"))
    email_from = _get("CIVMIL_EMAIL_FROM")
    if email_from:
        email_from = _address("CIVMIL_EMAIL_FROM", email_from)
    elif production:
        raise EnvironmentProblem("CIVMIL_EMAIL_FROM", (
            "must be set when CIVMIL_ENV=production: the sender of civmil's mail, an address the mail "
            "server accepts (e.g. civmil <no-reply@mission.example>)"))
    else:
        email_from = Deployment.email_from
    server_email = _get("CIVMIL_SERVER_EMAIL")
    server_email = _address("CIVMIL_SERVER_EMAIL", server_email) if server_email else email_from
    return Deployment(
        env=env,
        var_dir=var_dir,
        database_url=database_url,
        redis_url=redis_url,
        secret_key=secret_key,
        ledger_signing_key=signing_key,
        allowed_hosts=allowed_hosts,
        email_url=email_url,
        host=_get("HOST") or "127.0.0.1",
        port=_port(_get("PORT") or "8000"),
        embedded_worker=_flag("CIVMIL_EMBEDDED_WORKER"),
        hsts_preload=bool(_flag("CIVMIL_HSTS_PRELOAD")),
        web_processes=_count("CIVMIL_WEB_PROCESSES", cores(), most=64),
        web_threads=_count("CIVMIL_WEB_THREADS", 4, most=64),
        db_pool_size=_count("CIVMIL_DB_POOL_SIZE", 8, most=200),
        live_relay=bool(_flag("CIVMIL_LIVE_RELAY")),
        debug=_debug(production),
        secret_key_fallbacks=_fallback_keys(production),
        email_from=email_from,
        server_email=server_email,
        admins=_admins(_get("CIVMIL_ADMINS")) if _get("CIVMIL_ADMINS") else (),
        log_format=_choice("CIVMIL_LOG_FORMAT", "text", LOG_FORMATS),
        log_level=_choice("CIVMIL_LOG_LEVEL", "INFO", LOG_LEVELS, fold=str.upper),
        metrics_token=_metrics_token(),
        basemap=Path(_get("CIVMIL_BASEMAP")).expanduser() if _get("CIVMIL_BASEMAP") else var_dir / "basemap.pmtiles",
    )


#: Seconds a Redis read may wait. channels_redis blocks 5 s in BZPOPMIN for each receive, and
#: redis-py 8 made 5 s its default socket timeout too, so every quiet connection's read timed out
#: and the live socket dropped (redis-py 4091, channels_redis 422). A margin above the block
#: keeps quiet connections open while a dead Redis is still noticed.
REDIS_SOCKET_TIMEOUT = 15
REDIS_CONNECT_TIMEOUT = 5


def redis_channel_layer(url: str, **config: object) -> dict[str, object]:
    """The Channels layer on Redis at ``url`` (with extra ``config`` such as ``prefix``): channels_redis's,
    its pools waiting for a free connection instead of failing (civmil.config.channel_layer)."""
    host = {"address": url, "socket_timeout": REDIS_SOCKET_TIMEOUT,
            "socket_connect_timeout": REDIS_CONNECT_TIMEOUT}
    return {"BACKEND": "civmil.config.channel_layer.RedisChannelLayer", "CONFIG": {"hosts": [host], **config}}
