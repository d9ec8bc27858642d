"""Django settings. Deployment values come only from :mod:`civmil.config.env`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dj_database_url
from csp.constants import NONE, SELF
from django.utils.translation import gettext_lazy as _

from civmil.config import vendor
from civmil.config.env import deployment, email_backend, redis_channel_layer
from civmil.config.logging import logging_config
from civmil.config.storage import default_storage as media_storage

DEPLOY = deployment()
BASE_DIR = Path(__file__).resolve().parent.parent
#: Off unless a developer asks (CIVMIL_DEBUG=true): `make run` serves a demo or a training room,
#: where tracebacks must not show, and debug mode records every SQL query (a third of a page's time).
DEBUG = DEPLOY.debug
SECRET_KEY = DEPLOY.secret_key
#: Former keys, still accepted after a rotation (docs/operations.md, "Rotating SECRET_KEY").
SECRET_KEY_FALLBACKS = list(DEPLOY.secret_key_fallbacks)
ALLOWED_HOSTS = list(DEPLOY.allowed_hosts)
CIVMIL_ENV = DEPLOY.env
CIVMIL_VAR_DIR = DEPLOY.var_dir

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "django_htmx",
    "ninja",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_tasks",
    "django_tasks_db",
    "civmil.core",
    "civmil.comms",
    "civmil.actors",
    "civmil.demo",
]

MIDDLEWARE = [
    # Request id, access line and latency of every request; answers /health/* and /metrics itself.
    "civmil.core.observability.RequestSignalsMiddleware",
    "civmil.core.concurrency.ConcurrencyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "civmil.core.middleware.SessionLifetimeMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "civmil.core.mfa.RequireSecondFactorMiddleware",
    "civmil.core.middleware.PersonLanguageMiddleware",
    "civmil.core.middleware.ActorMiddleware",
]

ROOT_URLCONF = "civmil.config.urls"
ASGI_APPLICATION = "civmil.config.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "civmil.core.context_processors.civmil",
                "civmil.actors.context_processors.maps",
            ],
        },
    },
]
FORM_RENDERER = "civmil.core.forms_renderer.Renderer"

_db = dj_database_url.parse(DEPLOY.database_url, conn_max_age=0)
if _db["ENGINE"] == "django.db.backends.postgresql":
    # Each process keeps a pool: a request borrows a connection and gives it back (psycopg_pool),
    # so neither users nor live connections multiply the server's connections (docs/deploy.md).
    _db.setdefault("OPTIONS", {})["pool"] = {"min_size": 1, "max_size": DEPLOY.db_pool_size, "timeout": 20}
elif _db["ENGINE"] == "django.db.backends.sqlite3":
    # A connection lives as long as its thread: the server's request threads are kept
    # (civmil.core.concurrency), and opening a SQLite connection costs more than most queries.
    _db["CONN_MAX_AGE"] = None
    _db["CONN_HEALTH_CHECKS"] = True
    _db["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # Tests use a file too: an in-memory database shared between threads answers "table is locked"
    # at once instead of waiting, and the browser tests' server threads write while others read.
    _db.setdefault("TEST", {})["NAME"] = f"{_db['NAME']}-test"
DATABASES: dict[str, Any] = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "core.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_ADAPTER = "civmil.core.accounts.adapter.AccountAdapter"
#: A shift signs in together from behind one address (a camp's NAT): many sign-ins per address;
#: guessing is slowed per account (5 wrong passwords in 5 minutes) and per address.
ACCOUNT_RATE_LIMITS = {"login": "600/m/ip", "login_failed": "60/m/ip,5/5m/key"}
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = False
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("fr", _("French"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["civmil.core.formats"]  # dates and numbers per language (docs/translation.md)
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DEPLOY.var_dir / "static"
STATICFILES_DIRS: list[Path | tuple[str, Path]] = [BASE_DIR / "static"]
# Only the distributed files of the pinned front-end packages are served (package.json): from
# node_modules in a checkout, from the copy inside the package when installed from a wheel.
STATICFILES_DIRS += vendor.static_dirs()
VENDOR_ASSETS = vendor.VENDOR_ASSETS
STORAGES = {
    "default": media_storage(),  # the media directory, or an S3 bucket (civmil.config.storage)
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = False
MEDIA_ROOT = DEPLOY.var_dir / "media"

CHANNEL_LAYERS: dict[str, Any] = (
    {"default": redis_channel_layer(DEPLOY.redis_url)}
    if DEPLOY.redis_url
    else {"default": {"BACKEND": "civmil.core.events.relay.RelayChannelLayer"}}
)
#: One cache for every process of the site: sign-in and second-factor limits, and TOTP codes
#: already used, must hold across processes and servers (a cache per process multiplied the
#: guesses allowed by the number of processes). Redis when there is one (every server shares it);
#: otherwise files in the var directory, shared by the processes of one host.
CACHES: dict[str, Any] = (
    {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": DEPLOY.redis_url,
                 "KEY_PREFIX": "civmil", "OPTIONS": {"socket_timeout": 5, "socket_connect_timeout": 5}}}
    if DEPLOY.redis_url
    else {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                      "LOCATION": str(DEPLOY.var_dir / "cache")}}
)
#: Without Redis, the processes of one server pass live messages through the database (on only in
#: the processes `civmil serve` starts when it runs several).
CIVMIL_LIVE_RELAY = DEPLOY.live_relay

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}

CIVMIL_LEDGER_SIGNING_KEY = DEPLOY.ledger_signing_key
CIVMIL_EMBEDDED_WORKER = DEPLOY.embedded_worker
CIVMIL_WEB_PROCESSES = DEPLOY.web_processes
CIVMIL_WEB_THREADS = DEPLOY.web_threads
CIVMIL_MAX_FORM_BYTES = 2 * 1024 * 1024
#: Live connections one session may hold at once; opening another closes the oldest (code 4429).
CIVMIL_LIVE_MAX_SOCKETS_PER_SESSION = 3
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024


# E-mail: the backend from EMAIL_URL (production accepts only SMTP), senders and admins from
# CIVMIL_EMAIL_FROM, CIVMIL_SERVER_EMAIL and CIVMIL_ADMINS (docs/operations.md, "E-mail").
globals().update(email_backend(DEPLOY.email_url))
DEFAULT_FROM_EMAIL = DEPLOY.email_from
SERVER_EMAIL = DEPLOY.server_email
ADMINS = list(DEPLOY.admins)

# No inline script or style anywhere; same-origin WebSockets are covered by 'self'.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

SESSION_COOKIE_HTTPONLY = True
#: A session's own expiry follows the mission's idle limit, capped by what remains of its lifetime
#: (civmil.core.middleware.SessionLifetimeMiddleware); this is only the ceiling for a session not yet
#: given one: the longest idle time a mission may set (24 hours; a lifetime may be at most 14 days).
SESSION_COOKIE_AGE = 24 * 60 * 60
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if DEPLOY.production:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = 31_536_000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # Off unless CIVMIL_HSTS_PRELOAD=true: a preloaded domain stays HTTPS-only in browsers for months,
    # subdomains included, even after the mission leaves it (docs/deploy.md, "HSTS").
    SECURE_HSTS_PRELOAD = DEPLOY.hsts_preload
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Text or JSON lines with a request id (CIVMIL_LOG_FORMAT, CIVMIL_LOG_LEVEL; docs/operations.md, "Logs").
LOGGING: dict[str, Any] = logging_config(DEPLOY.log_format, DEPLOY.log_level)
#: Opens /metrics to other hosts as a bearer token (CIVMIL_METRICS_TOKEN; docs/operations.md, "Metrics").
CIVMIL_METRICS_TOKEN = DEPLOY.metrics_token
#: The offline basemap file served to signed-in readers' maps (CIVMIL_BASEMAP; docs/basemap.md).
CIVMIL_BASEMAP = DEPLOY.basemap or DEPLOY.var_dir / "basemap.pmtiles"
