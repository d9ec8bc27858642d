"""``civmil demo``: load the fictional demo mission; ``civmil demo logins``: list its sign-ins;
``civmil demo scale --records N``: add N made-up records of each registered type (load tests)."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from django.utils.translation import gettext as _
from rich.console import Console
from rich.table import Table

from civmil.core.choices import Role
from civmil.core.errors import ServiceError
from civmil.demo import checks, data, loader, scale

#: Columns of the logins table: it fits a common terminal without wrapping.
LOGINS_WIDTH = 100


class Command(BaseCommand):
    help = ("Load the fictional demo mission into an empty database, list its logins, or add made-up records to it "
            "(development and load tests only).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", nargs="?", choices=("load", "logins", "scale"), default="load",
                            help=_("'load' (the default) loads the demo; 'logins' lists its sign-ins; 'scale' adds "
                                   "made-up records of each registered type to it."))
        parser.add_argument("--records", type=int, default=None,
                            help=_("scale: how many records of each type to add (1 to %(most)s).")
                            % {"most": f"{scale.MOST:,}"})
        parser.add_argument("--types", default="",
                            help=_("scale: the record types to add, comma-separated (e.g. actors.liaisonlogentry); "
                                   "default: every registered type."))
        parser.add_argument("--seed", type=int, default=scale.SEED,
                            help=_("scale: the seed of the made-up values (the same seed makes the same records)."))
        parser.add_argument("--if-empty", action="store_true",
                            help=_("Load only when the database has no organisations; say nothing otherwise."))
        parser.add_argument("--json", action="store_true", help=_("List the logins as JSON."))

    def handle(self, *args: Any, **options: Any) -> None:
        if checks.production():
            raise CommandError(_(
                "The demo mission is for development only: CIVMIL_ENV is 'production'. Its logins share a "
                "published password, so civmil neither loads nor lists them in production."))
        from civmil.core.checks import unapplied_migrations

        try:
            pending = unapplied_migrations()
        except DatabaseError as exc:
            raise CommandError(_("The database cannot be used (DATABASE_URL): %(error)s") % {"error": exc}) from exc
        if pending:
            raise CommandError(_("The database is not ready: %(count)s migration(s) not applied. Run "
                                 "`civmil migrate` first.") % {"count": len(pending)})
        if options["action"] == "logins":
            self._logins(as_json=options["json"])
        elif options["action"] == "scale":
            self._scale(options["records"], options["types"], options["seed"])
        else:
            self._load(if_empty=options["if_empty"])

    def _load(self, *, if_empty: bool) -> None:
        if not loader.database_is_empty():
            if if_empty:
                if loader.present():
                    self._basemap(only_if_missing=True, quiet=True)
                return
            if loader.present():
                self._basemap(only_if_missing=True)
                self.stdout.write(_("The demo mission is already loaded; nothing changed."))
                return
            raise CommandError(_(
                "This database already holds organisations, so the demo mission was not loaded (it loads only "
                "into an empty database). Point DATABASE_URL at a new database and run `civmil migrate` and "
                "`civmil demo` again."))
        report = loader.load()
        c = report.counts
        self.stdout.write(self.style.SUCCESS(_(
            "Loaded the demo mission %(acronym)s in %(seconds).1f s: %(orgs)s organisations, %(people)s people "
            "(%(logins)s with a login), %(areas)s areas, %(assignments)s liaison assignments and %(entries)s "
            "liaison log entries.") % {
                "acronym": data.MISSION_ACRONYM, "seconds": report.seconds, "orgs": c["organisations"],
                "people": c["people"], "logins": c["logins"], "areas": c["areas"],
                "assignments": c["assignments"], "entries": c["liaison_entries"]}))
        self._basemap(only_if_missing=False)
        self.stdout.write(_("List the logins with `civmil demo logins`."))

    def _basemap(self, *, only_if_missing: bool, quiet: bool = False) -> None:
        """The demo country's basemap (its towns, roads, rivers and areas), built once: every map draws it.

        A demo loaded before the basemap existed gets it on its next start (``--if-empty``, quietly)."""
        from django.conf import settings
        from django.core.management import call_command

        from civmil.demo import geography

        if only_if_missing and Path(settings.CIVMIL_BASEMAP).exists():
            return
        call_command("basemap", "build", "--from", str(geography.FOLDER),
                     stdout=io.StringIO() if quiet else self.stdout, stderr=self.stderr)

    def _scale(self, records: int | None, types: str, seed: int) -> None:
        if records is None:
            raise CommandError(_("Say how many records of each type to add: `civmil demo scale --records N`."))
        try:
            chosen = scale.record_types([t.strip() for t in types.split(",") if t.strip()])
            reports = scale.scale(records, chosen, seed=seed)
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        # So many new rows at once: the query planner's statistics are refreshed now rather than
        # at the worker's next round (see core.schedule.refresh_planner_statistics).
        from civmil.core.schedule import refresh_planner_statistics

        refresh_planner_statistics.call()
        table = Table(title=_("Made-up records added to the demo mission"))
        for heading in (_("Record type"), _("Records"), _("Releases"), _("Ledger entries"), _("Seconds"),
                        _("Records/s")):
            table.add_column(heading, justify="left" if heading == _("Record type") else "right")
        for r in reports:
            table.add_row(r.key, f"{r.records:,}", f"{r.releases:,}", f"{r.ledger_entries:,}", f"{r.seconds:.1f}",
                          f"{r.rate:,.0f}")
        total = sum(r.records for r in reports)
        seconds = sum(r.seconds for r in reports)
        buffer = io.StringIO()
        Console(file=buffer, width=200, force_terminal=False).print(table)
        self.stdout.write(buffer.getvalue().rstrip("\n"))
        self.stdout.write(self.style.SUCCESS(_("%(total)s records in %(seconds).1f s (%(rate)s records/s). Check the "
                                               "ledger with `civmil ledger verify`.")
                                             % {"total": f"{total:,}", "seconds": seconds,
                                                "rate": f"{total / seconds:,.0f}" if seconds else "-"}))

    def _logins(self, *, as_json: bool) -> None:
        rows = loader.logins()
        if as_json:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        if not rows:
            self.stdout.write(_("The demo mission is not loaded: there are no demo logins. Load it with "
                                "`civmil demo`."))
            return
        table = Table(title=_("Demo logins (development only) — password: %(password)s")
                      % {"password": data.PASSWORD})
        for heading in (_("Username"), _("Role"), _("Organisation"), _("Second factor")):
            table.add_column(heading)
        for row in rows:
            factor = (_("code now %(code)s") % {"code": row["totp_code_now"]} if row["totp_secret"]
                      else _("not required"))
            table.add_row(row["username"], str(Role(row["role"]).label), row["organisation_label"], factor)
        secrets = {row["username"]: row["totp_secret"] for row in rows if row["totp_secret"]}
        if secrets:
            table.caption_justify = "left"
            table.caption = _("Second-factor secrets, to add to an authenticator app:") + "\n" + "\n".join(
                f"{username}: {secret}" for username, secret in secrets.items())
        buffer = io.StringIO()
        tty = self.stdout.isatty()
        # Fits a terminal of 100 columns (narrower ones wrap the role), and a log does not wrap.
        width = min(shutil.get_terminal_size().columns, LOGINS_WIDTH) if tty else LOGINS_WIDTH
        Console(file=buffer, width=width, force_terminal=tty).print(table)
        self.stdout.write(buffer.getvalue().rstrip("\n"))
