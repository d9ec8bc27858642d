"""``civmil import_directory FILE --kind organisations|people [--dry-run] [--yes]``: import the directory from CSV.

Prints what the import would do and every rejected row with its reasons. With any rejected
row nothing is imported unless ``--yes`` confirms importing the valid rows without them (the
command exits with status 1 otherwise). ``--dry-run`` only reports (status 1 if any row would
be rejected, so it can check a file in a script). Runs as the operator at the console.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from civmil.actors import directory_csv, services
from civmil.core.errors import ServiceError


class Command(BaseCommand):
    help = ("Import organisations or people from a CSV file. All or nothing: rejected rows stop the import "
            "unless --yes is given.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="CSV file (UTF-8, comma or semicolon separated, with a header line)")
        parser.add_argument("--kind", required=True, choices=[directory_csv.ORGANISATIONS, directory_csv.PEOPLE],
                            help="what the file holds")
        parser.add_argument("--dry-run", action="store_true", help="report what would happen; write nothing")
        parser.add_argument("--yes", action="store_true", help="import the valid rows even when others are rejected")

    def handle(self, *args: Any, **opts: Any) -> None:
        path = Path(opts["file"])
        try:
            size = path.stat().st_size
            if size > directory_csv.MAX_FILE_BYTES:
                raise CommandError(directory_csv.too_large_message(size))
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(_("Cannot read %(path)s: %(why)s") % {"path": path, "why": exc.strerror or exc}) from exc
        plan = directory_csv.plan_file(None, opts["kind"], data)
        if plan.error:
            raise CommandError(_("%(path)s: %(why)s Nothing was imported.") % {"path": path, "why": plan.error})
        self.stdout.write(_("%(create)s to create, %(update)s to update, %(unchanged)s unchanged, %(rejected)s "
                            "rejected.") % {"create": len(plan.to_create), "update": len(plan.to_update),
                                            "unchanged": len(plan.unchanged), "rejected": len(plan.rejected)})
        for rejected in plan.rejected:
            self.stdout.write("  " + rejected.describe())
        if opts["dry_run"]:
            self.stdout.write(_("Dry run: nothing was written."))
            if plan.rejected:
                raise CommandError(_("%(n)s row(s) would be rejected.") % {"n": len(plan.rejected)})
            return
        if plan.rejected and not opts["yes"]:
            raise CommandError(
                _("%(n)s row(s) rejected, so nothing was imported. Fix them, or run again with --yes to import the "
                  "%(ok)s valid row(s) without them.") % {"n": len(plan.rejected), "ok": len(plan.rows)})
        try:
            result = services.import_directory(None, plan, confirm=opts["yes"])
        except ServiceError as exc:
            raise CommandError(_("%(why)s Nothing was imported.") % {"why": exc.message}) from exc
        self.stdout.write(self.style.SUCCESS(
            _("Imported: %(created)s created, %(updated)s updated, %(unchanged)s unchanged, %(memberships)s "
              "membership(s) added.") % {"created": result.created, "updated": result.updated,
                                          "unchanged": result.unchanged, "memberships": result.memberships}))
