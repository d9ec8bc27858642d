"""``civmil import_boundaries FILE --level N ...``: import administrative boundaries from GeoJSON.

Prints what the import would do and every rejected feature with the reason. With any rejected
feature nothing is imported unless ``--yes`` confirms importing the valid ones without them;
the command then exits with status 1. ``--dry-run`` only reports (status 1 if any feature
would be rejected, so it can check a file in a script).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from civmil.actors import boundaries, queries, services
from civmil.core.errors import ServiceError
from civmil.core.formats import megabytes
from civmil.interop import codab


class Command(BaseCommand):
    help = ("Import administrative boundaries (areas with P-codes) from a GeoJSON FeatureCollection in the "
            "COD-AB layout. All or nothing: rejected features stop the import unless --yes is given.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="GeoJSON FeatureCollection of Polygon/MultiPolygon features")
        parser.add_argument("--level", type=int, required=True, help="admin level of the file (0 = country)")
        parser.add_argument("--pcode-field", default="", help="property holding the P-code (default ADM<level>_PCODE)")
        parser.add_argument("--name-field", default="", help="property holding the name (default ADM<level>_EN)")
        parser.add_argument("--alt-name-field", default="", help="property holding an alternative name")
        parser.add_argument("--parent-field", default="",
                            help="property holding the parent's P-code (e.g. ADM1_PCODE for a level-2 file)")
        parser.add_argument("--source", default="", help="where the boundaries come from (stored on each area)")
        parser.add_argument("--dry-run", action="store_true", help="report what would happen; write nothing")
        parser.add_argument("--yes", action="store_true",
                            help="import the valid features even when others are rejected")

    def handle(self, *args: Any, **opts: Any) -> None:
        path = Path(opts["file"])
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise CommandError(_("Cannot read %(path)s: %(why)s") % {"path": path, "why": exc.strerror or exc}) from exc
        if size > codab.MAX_FILE_BYTES:
            raise CommandError(
                _("%(path)s is %(size)s MB; the limit is %(max)s MB. Import one admin level per file, or simplify "
                  "the boundaries to make the file smaller.")
                % {"path": path, "size": megabytes(size), "max": codab.MAX_FILE_BYTES // 1024 // 1024})
        options = boundaries.ImportOptions.cod(
            opts["level"], pcode_field=opts["pcode_field"], name_field=opts["name_field"],
            alt_name_field=opts["alt_name_field"], parent_field=opts["parent_field"],
            source=opts["source"] or path.name)
        problems = options.problems()
        if problems:
            raise CommandError(" ".join(m for msgs in problems.values() for m in msgs))
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(_("Cannot read %(path)s: %(why)s") % {"path": path, "why": exc.strerror or exc}) from exc

        plan = queries.boundary_plan(None, data, options)
        if plan.error:
            raise CommandError(_("%(path)s: %(why)s Nothing was imported.") % {"path": path, "why": plan.error})
        self._report(plan)
        if opts["dry_run"]:
            self.stdout.write(_("Dry run: nothing was written."))
            if plan.rejected:
                raise CommandError(_("%(n)s feature(s) would be rejected.") % {"n": len(plan.rejected)})
            return
        if plan.rejected and not opts["yes"]:
            raise CommandError(
                _("%(n)s feature(s) rejected, so nothing was imported. Fix them, or run again with --yes to import "
                  "the %(ok)s valid feature(s) without them.") % {"n": len(plan.rejected), "ok": len(plan.areas)})
        try:
            result = services.import_boundaries(None, plan, confirm=opts["yes"])
        except ServiceError as exc:
            raise CommandError(_("%(why)s Nothing was imported.") % {"why": exc.message}) from exc
        summary = _("Imported: %(created)s created, %(updated)s updated, %(unchanged)s unchanged.") % {
            "created": result.created, "updated": result.updated, "unchanged": result.unchanged}
        if result.skipped:
            summary += " " + _("%(n)s rejected feature(s) left out.") % {"n": len(result.skipped)}
        self.stdout.write(self.style.SUCCESS(summary))

    def _report(self, plan: boundaries.BoundaryPlan) -> None:
        self.stdout.write(
            _("%(n)s feature(s): %(create)s to create, %(update)s to update (areas that would not change are left "
              "alone), %(rejected)s rejected.") % {"n": plan.feature_count, "create": len(plan.to_create),
                                                   "update": len(plan.to_update), "rejected": len(plan.rejected)})
        for note in plan.notes:
            self.stdout.write(self.style.WARNING(_("Note: %(note)s") % {"note": note}))
        for rejected in plan.rejected:
            self.stderr.write(_("Rejected: %(feature)s") % {"feature": rejected.describe()})
