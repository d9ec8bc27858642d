"""``civmil serve``: run the ASGI application with uvicorn on HOST:PORT from the environment.

Before it listens, it runs the system checks (with the deployment checks in production) and
refuses to start on any error — among them the demo mission or its logins in a production
database (check ``civmil.demo.E001``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from civmil.config.env import deployment

ASGI_APP = "civmil.config.asgi:application"


def startup_problems() -> list[str]:
    """The errors that keep the server from starting (deployment checks included in production)."""
    production = str(getattr(settings, "CIVMIL_ENV", "development")) == "production"
    messages = checks.run_checks(include_deployment_checks=production)
    return [f"{m.id}: {m.msg}" + (f" ({m.hint})" if m.hint else "") for m in messages if m.is_serious()]


def url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


class Command(BaseCommand):
    help = "Serve civmil (HTML, API and live updates) with uvicorn on HOST:PORT."
    # The checks run in handle(), with the deployment checks in production.
    requires_system_checks: list[str] = []  # type: ignore[assignment]

    def handle(self, *args: Any, **options: Any) -> None:
        problems = startup_problems()
        if problems:
            raise CommandError(_("civmil will not start:") + "\n" + "\n".join(f"  {p}" for p in problems))
        import uvicorn

        deploy = deployment()
        self.stdout.write(_("civmil is serving at %(url)s (Ctrl+C stops it).") % {"url": url(deploy.host, deploy.port)})
        uvicorn.run(ASGI_APP, host=deploy.host, port=deploy.port, reload=False, lifespan="off",
                    proxy_headers=deploy.production, log_level="info")
