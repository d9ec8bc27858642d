"""``civmil serve``: run the ASGI application with uvicorn on HOST:PORT from the environment.

HOST and PORT are read by ``civmil.config.env.deployment()``; the settings keep its result as
``DEPLOY`` (the kernel does not import ``civmil.config``).

Before it listens, it runs the system checks (with the deployment checks in production) and
refuses to start on any error — among them the demo mission or its logins in a production
database (check ``civmil.demo.E001``).
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _


def asgi_app() -> str:
    """``ASGI_APPLICATION`` ("package.module.name") in uvicorn's "package.module:name" form."""
    module, _dot, name = str(settings.ASGI_APPLICATION).rpartition(".")
    return f"{module}:{name}"


def _checks() -> list[checks.CheckMessage]:
    """The system checks (with the deployment checks in production). In every environment they
    include the database (reachable, every migration applied) and Redis when it is configured:
    a server must not look healthy and answer 500."""
    from civmil.core.checks import connection_problems

    production = str(getattr(settings, "CIVMIL_ENV", "development")) == "production"
    messages = list(checks.run_checks(include_deployment_checks=production))
    if not production:
        messages += connection_problems()
    return messages


def _line(message: checks.CheckMessage) -> str:
    return f"{message.id}: {message.msg}" + (f" ({message.hint})" if message.hint else "")


def startup_problems(messages: list[checks.CheckMessage] | None = None) -> list[str]:
    """The errors that keep the server from starting (deployment checks included in production)."""
    return [_line(m) for m in (_checks() if messages is None else messages) if m.is_serious()]


def url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def embedded_worker_enabled() -> bool:
    """Whether ``serve`` runs the background worker in a thread: ``settings.CIVMIL_EMBEDDED_WORKER``
    (from the environment variable of that name; on by default in development, off in production)."""
    value = getattr(settings, "CIVMIL_EMBEDDED_WORKER", None)
    if value is None:
        return str(getattr(settings, "CIVMIL_ENV", "development")) != "production"
    return bool(value)


def process_count(requested: int | None) -> int:
    """Server processes to run: ``--processes``, else ``CIVMIL_WEB_PROCESSES`` (default: the cores)."""
    return max(1, requested if requested is not None else int(settings.DEPLOY.web_processes))


def relay_needed(processes: int) -> bool:
    """Several processes without Redis pass live messages through the database (events.relay)."""
    return processes > 1 and not settings.DEPLOY.redis_url


class Command(BaseCommand):
    help = "Serve civmil (HTML, API and live updates) with uvicorn on HOST:PORT."
    # The checks run in handle(), with the deployment checks in production.
    requires_system_checks: list[str] = []  # type: ignore[assignment]

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--processes", type=int, default=None, metavar="N",
            help=_("server processes on HOST:PORT (default: CIVMIL_WEB_PROCESSES, else one per core)"))

    def handle(self, *args: Any, **options: Any) -> None:
        if options["processes"] is not None and not 1 <= options["processes"] <= 64:
            raise CommandError(_("--processes must be a whole number from 1 to 64."))
        messages = _checks()
        problems = startup_problems(messages)
        if problems:
            raise CommandError(_("civmil will not start:") + "\n" + "\n".join(f"  {p}" for p in problems))
        for message in messages:
            if not message.is_silenced():
                self.stderr.write(_("warning: %(line)s") % {"line": _line(message)})
        import uvicorn

        deploy = settings.DEPLOY
        embedded = embedded_worker_enabled()
        if embedded:
            self.stdout.write(_("Background jobs run in this process (CIVMIL_EMBEDDED_WORKER); "
                                "run 'civmil worker' instead when you run several servers."))
        processes = process_count(options["processes"])
        if relay_needed(processes):
            # The processes uvicorn starts read it from their environment; this one (whose
            # embedded worker publishes) from the setting.
            os.environ["CIVMIL_LIVE_RELAY"] = "true"
            settings.CIVMIL_LIVE_RELAY = True
        self.stdout.write(_("civmil is serving at %(url)s with %(processes)s processes, %(threads)s requests at "
                            "a time each (Ctrl+C stops it).")
                          % {"url": url(deploy.host, deploy.port), "processes": processes,
                             "threads": settings.CIVMIL_WEB_THREADS})
        from civmil.core import metrics, schedule

        # Every process of this server (and a worker on this host) writes its counts where /metrics
        # adds them up; files of processes that no longer run are removed first.
        metrics.prepare_multiprocess_dir()
        if embedded:
            schedule.start_embedded_worker()
        try:
            # uvicorn's lines formatted as civmil's (text or JSON, with the request id): the
            # settings' LOGGING. Its access lines stay off: civmil.access says the same and more.
            uvicorn.run(asgi_app(), host=deploy.host, port=deploy.port, reload=False, lifespan="off",
                        proxy_headers=deploy.production, log_config=settings.LOGGING,
                        workers=processes if processes > 1 else None)
        finally:
            schedule.stop_embedded_worker()
