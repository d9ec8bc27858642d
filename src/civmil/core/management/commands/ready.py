"""``civmil ready``: wait until the server on HOST:PORT answers ``/health/ready`` with 200.

The web unit runs it as ``ExecStartPost``, so systemd counts a server as started only once it can
serve: ``systemctl restart civmil-web@8001`` returns when 8001 is ready again, and an upgrade
that restarts the servers one after the other never has both down at once (docs/upgrade.md).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from civmil.core.management.commands.serve import url


def probe(address: str, timeout: float = 5.0) -> tuple[int, str]:
    """The status and body of ``GET address``; status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(address, timeout=timeout) as response:  # noqa: S310 (our own http URL)
            return int(response.status), response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError):
        return 0, ""


class Command(BaseCommand):
    help = "Wait until the server on HOST:PORT is ready to serve (GET /health/ready answers 200)."
    requires_system_checks: list[str] = []  # type: ignore[assignment]

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--wait", type=float, default=60.0, metavar="SECONDS",
                            help=_("how long to wait before giving up (default 60)"))

    def handle(self, *args: Any, **options: Any) -> None:
        deploy = settings.DEPLOY
        host = "127.0.0.1" if deploy.host in ("0.0.0.0", "") else ("::1" if deploy.host == "::" else deploy.host)  # noqa: S104
        address = url(host, deploy.port) + "health/ready"
        deadline = time.monotonic() + max(0.0, float(options["wait"]))
        status, body = probe(address)
        while status != 200 and time.monotonic() < deadline:
            time.sleep(0.5)
            status, body = probe(address)
        if status == 200:
            self.stdout.write(_("civmil at %(url)s is ready.") % {"url": address})
            return
        if status == 0:
            raise CommandError(_("Nothing answers at %(url)s after %(seconds)s s.")
                               % {"url": address, "seconds": options["wait"]})
        try:
            failed = {k: v for k, v in json.loads(body).get("checks", {}).items() if v != "ok"}
        except (ValueError, AttributeError):
            failed = {}
        detail = ", ".join(f"{k}: {v}" for k, v in failed.items()) or body[:200]
        raise CommandError(_("civmil at %(url)s is not ready (%(status)s): %(detail)s")
                           % {"url": address, "status": status, "detail": detail})
