"""The directory's and the liaison log's panels on the home page (:mod:`civmil.core.home`)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from civmil.core import access, home, registry
from civmil.core.kernel import fields as kf

if TYPE_CHECKING:
    from civmil.core.acting import Actor

#: How many records a panel lists.
PANEL_ROWS = 5
#: "New" in the areas of responsibility: the records of this many last days.
NEW_DAYS = 7
#: Most features the panel's small map draws.
MAP_FEATURES = 200


def _lines(actor: Actor, record_type: registry.RecordType, shown: list[access.Shown[Any]]) -> list[dict[str, str]]:
    """Each record's title line and page, as the reader sees them."""
    page = kf.Page.of(actor, kf.resolve(record_type), shown)
    return [{"title": kf.title(record_type, s, page) or str(record_type.label).capitalize(),
             "url": reverse(record_type.detail_url_name, kwargs={"pk": s.record.pk})} for s in shown]


def recent_entries(actor: Actor) -> dict[str, Any] | None:
    """The reader's own latest liaison log entries (those they still may see)."""
    from civmil.actors.models import LiaisonLogEntry

    if actor.person_id is None:
        return None
    record_type = registry.get(LiaisonLogEntry)
    qs = access.visible(actor, LiaisonLogEntry.objects.filter(created_by_id=actor.person_id))
    shown = list(access.show_all(actor, qs.order_by("-occurred_at", "-id")[:PANEL_ROWS]))
    return {"rows": _lines(actor, record_type, shown), "new_url": reverse("actors:liaison-new"),
            "all_url": reverse("actors:liaison-log")}


def responsibility_areas(actor: Actor) -> list[Any]:
    """The areas of responsibility of the reader's organisation or of an organisation above it."""
    from civmil.actors.choices import AreaKind
    from civmil.actors.models import Area

    org = actor.organisation
    if org is None:
        return []
    chain = [org.pk, *(o.pk for o in org.ancestors())]
    return list(Area.objects.filter(kind=AreaKind.RESPONSIBILITY, responsible_id__in=chain).order_by("name"))


def new_in_areas(actor: Actor) -> dict[str, Any] | None:
    """Records of the last days placed in the reader's areas of responsibility, through the policy
    (each where the reader's view places it), listed and on a small map."""
    import shapely
    from shapely.geometry import shape

    from civmil.core.geometry import Bounds
    from civmil.core.kernel import maps

    if actor.organisation is None:
        return None
    areas = [a for a in responsibility_areas(actor) if a.geometry]
    if not areas:
        return {"areas": [], "rows": [], "features": None}
    since = timezone.now() - dt.timedelta(days=NEW_DAYS)
    outline = shapely.union_all([shape(a.geometry) for a in areas])
    west, south, east, north = outline.bounds
    features: list[dict[str, Any]] = []
    for record_type in maps.layer_types():
        qs, _looked_at, _custom = maps.features_query(actor, record_type, {}, Bounds(west, south, east, north),
                                                      since, None)
        times = maps.time_fields(record_type)
        newest = qs.order_by(f"-{times[0]}", "pk") if times else qs
        shown = list(access.show_all(actor, newest[:MAP_FEATURES]))
        lines = _lines(actor, record_type, shown)
        for s, line in zip(shown, lines, strict=True):
            place = maps.place_of(record_type, s)
            if place is None or not outline.intersects(shape(place)):
                continue  # in the areas' box, not in an area
            features.append({"type": "Feature", "id": str(s.record.pk), "geometry": place,
                             "properties": {"name": line["title"], "url": line["url"]}})
    features = features[:MAP_FEATURES]
    count = len(features)
    summary = ngettext("%(n)s record of the last %(days)s days in your areas",
                       "%(n)s records of the last %(days)s days in your areas", count) % {"n": count, "days": NEW_DAYS}
    return {"areas": areas, "summary": summary,
            "rows": [f["properties"] for f in features[:PANEL_ROWS * 2]],
            "features": {"type": "FeatureCollection", "features": features} if features else None,
            "areas_geojson": {"type": "FeatureCollection", "features": [
                {"type": "Feature", "geometry": a.geometry, "properties": {"name": a.name}} for a in areas]}}


def assignments_waiting(actor: Actor) -> list[home.WaitingItem]:
    """Assignments of the reader's organisation's officers that the reader may confirm or refuse."""
    from civmil.actors.queries import assignments_to_decide

    n = len(assignments_to_decide(actor))
    text = ngettext("%(n)s liaison assignment waits for your organisation's confirmation",
                    "%(n)s liaison assignments wait for your organisation's confirmation", n) % {"n": n}
    return [home.WaitingItem(text=text, url=reverse("actors:assignments") + "?to_decide=on", count=n)]


def register() -> None:
    from civmil.core.kernel import maps

    home.register_panel(home.Panel(
        key="actors.recent_entries", title=_("Your recent contacts"), template="actors/home/recent_entries.html",
        context=recent_entries, order=20, streams=("actors.liaisonlogentry",)))
    home.register_panel(home.Panel(
        key="actors.new_in_areas", title=_("New in your areas of responsibility"),
        template="actors/home/new_in_areas.html", context=new_in_areas, order=30,
        streams=lambda: tuple(t.key for t in maps.layer_types())))
    home.register_waiting(assignments_waiting, streams=("actors.liaisonassignment",))
