"""``civmil basemap build``: write the offline basemap every map draws (docs/basemap.md).

The archive is built from a folder of the mission's GeoJSON (``--from``: towns, roads, rivers,
water, boundaries) and the administrative areas of the directory, and written where civmil serves
it from (``CIVMIL_BASEMAP``, by default ``<var>/basemap.pmtiles``) unless ``--output`` says otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from civmil.actors import basemap
from civmil.actors.choices import AreaKind
from civmil.actors.models import Area
from civmil.core.errors import Invalid


class Command(BaseCommand):
    help = ("Build the offline basemap (a PMTiles archive of vector tiles) from the mission's GeoJSON files and "
            "the directory's administrative areas.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=("build",), help=_("'build' writes the basemap."))
        parser.add_argument("--from", dest="source", default="",
                            help=_("folder of the mission's GeoJSON files: %(files)s (each one optional).")
                            % {"files": basemap._file_names()})
        parser.add_argument("--output", default="",
                            help=_("where to write the archive (default: the served basemap, CIVMIL_BASEMAP)."))
        parser.add_argument("--min-zoom", type=int, default=basemap.MIN_ZOOM,
                            help=_("smallest zoom of the tiles (default %(zoom)s).") % {"zoom": basemap.MIN_ZOOM})
        parser.add_argument("--max-zoom", type=int, default=basemap.MAX_ZOOM,
                            help=_("largest zoom of the tiles (default %(zoom)s); maps zoom in further by "
                                   "enlarging these.") % {"zoom": basemap.MAX_ZOOM})
        parser.add_argument("--no-areas", action="store_true",
                            help=_("leave the directory's administrative areas out of the basemap."))

    def handle(self, *args: Any, **options: Any) -> None:
        output = Path(options["output"]) if options["output"] else Path(settings.CIVMIL_BASEMAP)
        try:
            features = basemap.read_source_folder(Path(options["source"])) if options["source"] else []
            if not options["no_areas"]:
                areas = Area.objects.filter(kind=AreaKind.ADMINISTRATIVE).order_by("admin_level", "name")
                features.extend(basemap.area_features(areas.iterator()))
            report = basemap.build(features, output, min_zoom=options["min_zoom"], max_zoom=options["max_zoom"])
        except Invalid as exc:
            raise CommandError(exc.message) from exc
        except OSError as exc:
            raise CommandError(_("Cannot write %(path)s: %(why)s") % {"path": output, "why": exc.strerror or exc}) \
                from exc
        layers = ", ".join(f"{name} {count}" for name, count in sorted(report.counts.items()))
        self.stdout.write(self.style.SUCCESS(_(
            "Wrote the basemap %(path)s: %(tiles)s tiles at zooms %(min)s to %(max)s, %(size)s kB, in %(seconds).1f s "
            "(features: %(layers)s).") % {
                "path": report.path, "tiles": report.tiles, "min": report.min_zoom, "max": report.max_zoom,
                "size": f"{report.bytes / 1024:,.0f}", "seconds": report.seconds, "layers": layers}))
