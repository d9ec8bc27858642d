"""Template tags and filters shared by every page.

- ``{% query_replace page=3 %}`` — the current query string with some parameters replaced.
- ``{{ level|level_label }}``, ``{{ level|level_key }}`` — releasability level label and CSS key.
- ``{{ dt|mission_time }}`` — a date-time shown in the mission's time zone, as the reader's language
  writes it (``"date"`` or ``"time"`` as argument for only one part; see :mod:`civmil.core.formats`).
  base.html wraps every page in ``{% mission_time_zone %}``, which resolves the zone of the acting
  user's space once per request; outside that block (an htmx fragment rendered on its own) the live
  mission's zone is used.
- ``{{ lat|mgrs:lon }}`` or ``{% mgrs lat lon %}`` — MGRS grid reference of a point.
- ``{% nav_section url1 url2 … as current %}`` — which menu entry the request is in.
- ``{% cell c %}``, ``{% withheld %}``, ``{% level_badge level %}`` — a field as the reader sees it.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from contextvars import ContextVar
from typing import Any

from django import template
from django.core.signals import request_started
from django.db import DatabaseError
from django.http import HttpRequest
from django.template.base import Parser, Token
from django.template.context import Context
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.utils.translation import gettext

from civmil.core.choices import Level
from civmil.core.formats import mission_datetime
from civmil.core.geo import to_mgrs
from civmil.core.models.spaces import LIVE_SPACE_ID
from civmil.core.zones import MissionZone, mission_zone

register = template.Library()

UTC = MissionZone("UTC")
_REQUEST_ZONE_ATTR = "_civmil_mission_zone"

#: The zone set by ``{% mission_time_zone %}`` while it renders its content.
_display_zone: ContextVar[dt.tzinfo | None] = ContextVar("civmil_display_zone", default=None)
#: Zones looked up outside that block, per space; emptied when a request starts.
_zones_this_request: dict[uuid.UUID, dt.tzinfo] = {}


def _forget_zones(**_kwargs: Any) -> None:
    _zones_this_request.clear()


request_started.connect(_forget_zones, dispatch_uid="civmil.templatetags.forget_zones")


def _zone_of_space(space_id: Any) -> dt.tzinfo:
    from civmil.core.services import mission_settings

    try:
        settings = mission_settings(space_id)
    except DatabaseError:
        # An error page must still render when the database is unreachable.
        return UTC
    return mission_zone(settings.time_zone, settings.time_zone_label)


def mission_zone_for(request: HttpRequest | None) -> dt.tzinfo:
    """The time zone of the mission (or exercise) the request acts in; looked up once per request."""
    if request is None:
        return _cached_zone(LIVE_SPACE_ID)
    zone = getattr(request, _REQUEST_ZONE_ATTR, None)
    if zone is None:
        actor = getattr(request, "actor", None)
        space_id = getattr(actor, "space_id", None) or LIVE_SPACE_ID
        zone = _zone_of_space(space_id)
        setattr(request, _REQUEST_ZONE_ATTR, zone)
    return zone


def _cached_zone(space_id: uuid.UUID) -> dt.tzinfo:
    zone = _zones_this_request.get(space_id)
    if zone is None:
        zone = _zones_this_request[space_id] = _zone_of_space(space_id)
    return zone


class MissionTimeZoneNode(template.Node):
    def __init__(self, nodelist: template.NodeList) -> None:
        self.nodelist = nodelist

    def render(self, context: Context) -> SafeString:
        zone = mission_zone_for(context.get("request"))
        token = _display_zone.set(zone)
        try:
            return self.nodelist.render(context)
        finally:
            _display_zone.reset(token)


@register.tag("mission_time_zone")
def mission_time_zone(parser: Parser, token: Token) -> MissionTimeZoneNode:
    """``{% mission_time_zone %}…{% endmission_time_zone %}``: ``mission_time`` inside uses the actor's zone.

    Unlike Django's ``{% timezone %}`` it leaves the active time zone alone, so forms keep
    parsing input in the zone the request runs in.
    """
    if len(token.split_contents()) != 1:
        raise template.TemplateSyntaxError("mission_time_zone takes no arguments")
    nodelist = parser.parse(("endmission_time_zone",))
    parser.delete_first_token()
    return MissionTimeZoneNode(nodelist)


@register.simple_tag(takes_context=True)
def mission_zone_name(context: Context) -> str:
    """The mission time zone for a 'times are in …' note, e.g. ``CAT, UTC+2, Africa/Juba``, or
    ``UTC+2`` for ``Etc/GMT-2`` (whose name reads as UTC-2)."""
    zone = _display_zone.get() or mission_zone_for(context.get("request"))
    return zone.describe() if isinstance(zone, MissionZone) else str(getattr(zone, "key", zone))


@register.filter
def mission_time(value: Any, part: str = "datetime") -> str:
    """A date-time in the mission time zone in the reader's language, zone shown; '' for no value.

    ``1 March 2025, 14:05 EAT`` in English, ``1 mars 2025 14:05 EAT`` in French. Naive date-times
    are taken as UTC (storage is UTC). Plain dates are shown as dates, without a zone.
    """
    if isinstance(value, dt.datetime):
        zone = _display_zone.get() or _cached_zone(LIVE_SPACE_ID)
        return mission_datetime(value, zone, part)
    return mission_datetime(value, UTC, part)


def zone_of_space(space_id: Any) -> dt.tzinfo:
    """The time zone of a mission or exercise, for times shown outside a page (e-mails)."""
    return _zone_of_space(space_id)


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@register.filter(name="mgrs")
def mgrs_filter(lat: Any, lon: Any) -> str:
    """``{{ lat|mgrs:lon }}`` -> ``34N CF 12345 67890``; '' when either is missing or out of range."""
    la, lo = _float(lat), _float(lon)
    if la is None or lo is None or not (-90 <= la <= 90 and -180 <= lo <= 180):
        return ""
    return to_mgrs(la, lo)


@register.simple_tag(name="mgrs")
def mgrs_tag(lat: Any, lon: Any) -> str:
    """``{% mgrs lat lon %}``: same as the ``mgrs`` filter."""
    return mgrs_filter(lat, lon)


@register.filter(is_safe=True)
def isolated(value: Any) -> SafeString:
    """``{{ name|isolated }}``: user text, escaped, in a ``<bdi>`` so its direction (and any
    right-to-left override it carries) stays inside it, even within a translated sentence."""
    return format_html("<bdi>{}</bdi>", value)


@register.filter
def level_label(value: Any) -> str:
    """Translated label of a releasability level (``"humanitarian"`` -> ``Humanitarian``)."""
    try:
        return str(Level(str(value)).label)
    except ValueError:
        return str(value or "")


@register.filter
def level_key(value: Any) -> str:
    """The level's value for use in a CSS class, or ``unknown`` for anything else."""
    text = str(value or "")
    return text if text in Level.values else "unknown"


@register.simple_tag(takes_context=True)
def query_replace(context: Context, **changes: Any) -> str:
    """The current query string with ``changes`` applied (``None`` or '' removes a parameter).

    ``<a href="{% query_replace page=page_obj.next_page_number %}">`` keeps the filters.
    """
    request = context.get("request")
    query = request.GET.copy() if request is not None else None
    if query is None:
        from django.http import QueryDict

        query = QueryDict(mutable=True)
    for key, value in changes.items():
        if value is None or value == "":
            query.pop(key, None)
        else:
            query[key] = str(value)
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"


def _under(path: str, url: str) -> bool:
    if url == "/":
        return path == "/"
    return path == url or path.startswith(url.rstrip("/") + "/")


@register.simple_tag(takes_context=True)
def nav_section(context: Context, *urls: str) -> str:
    """Of the menu's ``urls``, the one the request is in: the longest that the path is at or under.

    ``{% nav_section a b c as current %}`` then ``{% if current == a %} aria-current="page"{% endif %}``,
    so /directory/liaison/ marks "Liaison log" and not also "Directory" (/directory/).
    """
    request = context.get("request")
    if request is None:
        return ""
    path = str(request.path)
    matches = [url for url in urls if url and _under(path, str(url))]
    return max(matches, key=len) if matches else ""


# ---------------------------------------------------------------------------------------------
# A record's fields as the reader sees them: drawn in Python, because a list page draws hundreds.


def withheld_html() -> SafeString:
    """The mark of a field that is not released to the reader."""
    return format_html('<span class="muted withheld" title="{}">{}</span>',
                       gettext("This field is not released to you."), gettext("withheld"))


@register.simple_tag(name="withheld")
def withheld_tag() -> SafeString:
    """``{% withheld %}``: the mark of a field that is not released to the reader."""
    return withheld_html()


def _bdi(text: Any, url: str = "") -> SafeString:
    # The text (a user's or an import's) is in <bdi>: its direction is its own, isolated from the page.
    if url:
        return format_html('<a href="{}"><bdi>{}</bdi></a>', url, text)
    return format_html("<bdi>{}</bdi>", text)


@register.simple_tag(name="cell")
def cell_tag(c: Any, truncate: int | None = None) -> SafeString:
    """``{% cell row.cells.summary %}`` (optional ``truncate=200``): one field of a record as the
    reader sees it (a ``Cell`` of civmil.actors.views): withheld, a list of items, a link or text."""
    if c is None or c == "":
        return SafeString("")
    if c.withheld:
        return withheld_html()
    if c.items:
        return SafeString(", ".join(withheld_html() if item.withheld else _bdi(item.text, item.url)
                                    for item in c.items))
    if c.url:
        return _bdi(c.text, c.url)
    if truncate:
        return _bdi(Truncator(c.text).chars(int(truncate)))
    return _bdi(c.text) if c.text else SafeString("")


@register.simple_tag(name="level_badge")
def level_badge(level: Any) -> SafeString:
    """``{% level_badge obj.level %}``: a releasability level as a badge, its colour and its name."""
    return format_html('<span class="badge level level-{}">{}</span>', level_key(level), level_label(level))
