"""Health for operators and proxies: ``/health/live`` (the process answers) and ``/health/ready``
(it can serve: database reachable and fully migrated, Redis reachable when configured, the static
manifest present, the ledger signing key readable).

Both answer JSON without signing in and name only which check failed, never a secret or a
record. Ready answers 503 while any check fails, so a proxy or a unit sends no traffic there.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from civmil.core import checks as probes

#: Seconds a readiness ping of Redis may take.
PING_TIMEOUT = 5


def _database() -> str | None:
    # The request's own (pooled) connection: a probe every few seconds opens no new ones.
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")
    pending = probes.unapplied_migrations()
    return f"{len(pending)} migration(s) not applied" if pending else None


def _redis() -> str | None:
    url = probes.redis_url()
    if url is not None:
        probes.ping_redis(url, timeout=PING_TIMEOUT)
    return None


def _static_manifest() -> str | None:
    # The probe's message names a path under the var directory: shown to operators, not here.
    return "no static manifest: run `civmil collectstatic`" if probes.static_manifest_problem() else None


def _signing_key() -> str | None:
    from civmil.core.ledger import public_key

    public_key()
    return None


CHECKS: dict[str, Callable[[], str | None]] = {
    "database": _database,
    "redis": _redis,
    "static": _static_manifest,
    "signing_key": _signing_key,
}


def readiness() -> dict[str, str]:
    """Each check's result: ``ok`` or what is wrong (an exception's kind, never its details)."""
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            problem = check()
        except Exception as exc:  # any failure means not ready; the kind is enough for the operator
            problem = f"failed ({type(exc).__name__})"
        results[name] = problem or "ok"
    return results


@never_cache
@require_GET
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    checks = readiness()
    ok = all(v == "ok" for v in checks.values())
    return JsonResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503)
