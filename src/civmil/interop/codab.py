"""Administrative boundaries in OCHA's COD-AB layout: a GeoJSON FeatureCollection, read feature
by feature. Pure: bytes in, values out; nothing of civmil is imported.

A COD-AB file holds one admin level; each feature carries properties such as ``ADM2_PCODE``,
``ADM2_EN`` and its parent's ``ADM1_PCODE``. :func:`read_feature_collection` refuses a file that
is no FeatureCollection (with the reason); :func:`read_feature` reads one feature's P-code,
names, parent P-code and geometry from the properties the caller names, with every reason a
feature cannot be used. The geometry's own checks (closed rings, no self-intersection, ranges)
are the caller's: it passes them in (``check_feature``, ``clean_geometry``), raising
:class:`FormatError` with the reason. :mod:`civmil.actors.boundaries` plans an import from what
is read here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

#: Largest file accepted (the web form and the command line alike).
MAX_FILE_BYTES = 50 * 1024 * 1024
#: Most features in one file.
MAX_FEATURES = 50_000
#: Highest admin level (COD-AB goes to 5; some countries to 6).
MAX_LEVEL = 9
#: Longest integer literal read from the file: longer ones are refused before Python converts them.
MAX_INT_DIGITS = 40
#: Lengths of Area.pcode and Area.name / name_alt (a test checks they match the model).
PCODE_MAX_LENGTH = 32
NAME_MAX_LENGTH = 200
SOURCE_MAX_LENGTH = 200
#: The geometry types of RFC 7946 (a file holding one of them alone is not a collection).
GEOJSON_GEOMETRY_TYPES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
                          "GeometryCollection")
#: A COD-AB property name's level: ``ADM2_PCODE`` -> 2.
COD_LEVEL = re.compile(r"^ADM(\d)_", re.IGNORECASE)


class FormatError(ValueError):
    """The file, or one of its features, cannot be read; ``message`` says why, for its reader."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.1f}"


def _refuse_constant(name: str) -> Any:
    raise ValueError(_("%(name)s is not a JSON number") % {"name": name})


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(_("an integer with more than %(n)s digits") % {"n": MAX_INT_DIGITS})
    return int(text)


def _no_check(value: Any) -> None:
    return None


def read_feature_collection(data: bytes, *, check_bbox: Callable[[Any], None] = _no_check,
                            megabytes: Callable[[int], str] = _megabytes) -> list[Any]:
    """The ``features`` of a GeoJSON FeatureCollection, or :class:`FormatError` saying why not.

    Refuses files over :data:`MAX_FILE_BYTES` (sized with ``megabytes``), text that is not JSON
    (including NaN, Infinity and absurdly long integers), nesting too deep to parse, anything but
    a FeatureCollection with a list of features, and more than :data:`MAX_FEATURES` features.
    The collection's ``bbox``, when there is one, is given to ``check_bbox``.
    """
    if len(data) > MAX_FILE_BYTES:
        raise FormatError(
            _("The file is %(size)s MB; the limit is %(max)s MB. Import one admin level per file, or "
              "simplify the boundaries (for example with mapshaper) to make the file smaller.")
            % {"size": megabytes(len(data)), "max": MAX_FILE_BYTES // 1024 // 1024}
        )
    if not data.strip():
        raise FormatError(_("The file is empty."))
    try:
        value = json.loads(data, parse_constant=_refuse_constant, parse_int=_bounded_int)
    except json.JSONDecodeError as exc:
        raise FormatError(_("The file is not valid JSON: %(why)s at line %(line)s, column %(col)s.")
                          % {"why": exc.msg, "line": exc.lineno, "col": exc.colno}) from exc
    except UnicodeDecodeError as exc:
        raise FormatError(_("The file is not text in UTF-8 (GeoJSON must be UTF-8).")) from exc
    except RecursionError as exc:
        raise FormatError(_("The file nests arrays or objects too deeply to be GeoJSON.")) from exc
    except (ValueError, TypeError) as exc:
        raise FormatError(_("The file is not valid JSON: %(why)s.") % {"why": str(exc)[:200]}) from exc
    if not isinstance(value, dict):
        raise FormatError(_("The file is JSON but not a GeoJSON FeatureCollection (it is not an object)."))
    kind = value.get("type")
    if kind != "FeatureCollection":
        if kind in ("Feature", *GEOJSON_GEOMETRY_TYPES):
            raise FormatError(_("The file holds a single %(type)s; save the boundaries as a FeatureCollection.")
                              % {"type": kind})
        raise FormatError(_("The file is JSON but not a GeoJSON FeatureCollection (its \"type\" is not "
                            "\"FeatureCollection\")."))
    features = value.get("features")
    if not isinstance(features, list):
        raise FormatError(_("The FeatureCollection has no \"features\" list."))
    if "bbox" in value:
        check_bbox(value["bbox"])
    if not features:
        raise FormatError(_("The FeatureCollection has no features."))
    if len(features) > MAX_FEATURES:
        raise FormatError(_("The file has %(n)s features; the limit is %(max)s. Split it by admin level or "
                            "region.") % {"n": len(features), "max": MAX_FEATURES})
    return features


def text(value: Any) -> str | None:
    """A property value as text: strings and whole numbers; ``None`` for anything else."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return " ".join(value.split())
    if isinstance(value, int):
        return str(value)
    return None


@dataclass
class FeatureRead:
    """What one feature says (``index`` counts features from 1), and every reason it cannot be used."""

    index: int
    pcode: str = ""
    name: str = ""
    name_alt: str = ""
    parent_pcode: str = ""
    geometry: dict[str, Any] | None = None
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Properties:
    """Which property of a feature holds what (empty: not read)."""

    pcode: str
    name: str
    alt_name: str = ""
    parent: str = ""


def read_feature(index: int, feature: Any, properties: Properties, *, check_feature: Callable[[Any], None],
                 clean_geometry: Callable[[dict[str, Any]], dict[str, Any]]) -> FeatureRead:
    """Read feature ``index`` of a collection. ``check_feature`` checks the Feature object's own
    members and ``clean_geometry`` checks a Polygon or MultiPolygon and returns the geometry to
    keep; each raises :class:`FormatError` with the reason."""
    read = FeatureRead(index=index)
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        read.reasons.append(_("this is not a GeoJSON Feature."))
        return read
    props = feature.get("properties")
    if props is None:
        props = {}
    if not isinstance(props, dict):
        read.reasons.append(_("its \"properties\" is not an object."))
        return read
    try:
        check_feature(feature)
    except FormatError as exc:
        read.reasons.append(exc.message)
        return read

    pcode = text(props.get(properties.pcode))
    if pcode is None:
        read.reasons.append(_("the P-code (property %(p)s) is not text.") % {"p": properties.pcode})
    elif not pcode:
        read.reasons.append(_("the P-code is missing (property %(p)s is absent or empty).")
                            % {"p": properties.pcode})
    elif len(pcode) > PCODE_MAX_LENGTH:
        read.reasons.append(_("the P-code is longer than %(n)s characters.") % {"n": PCODE_MAX_LENGTH})
    else:
        read.pcode = pcode

    name = text(props.get(properties.name))
    if name is None:
        read.reasons.append(_("the name (property %(p)s) is not text.") % {"p": properties.name})
    elif not name:
        read.reasons.append(_("the name is missing (property %(p)s is absent or empty).")
                            % {"p": properties.name})
    elif len(name) > NAME_MAX_LENGTH:
        read.reasons.append(_("the name is longer than %(n)s characters.") % {"n": NAME_MAX_LENGTH})
    else:
        read.name = name

    if properties.alt_name:
        alt = text(props.get(properties.alt_name))
        if alt is None:
            read.reasons.append(_("the alternative name (property %(p)s) is not text.")
                                % {"p": properties.alt_name})
        elif len(alt) > NAME_MAX_LENGTH:
            read.reasons.append(_("the alternative name is longer than %(n)s characters.") % {"n": NAME_MAX_LENGTH})
        else:
            read.name_alt = alt

    if properties.parent:
        parent = text(props.get(properties.parent))
        if parent is None:
            read.reasons.append(_("the parent P-code (property %(p)s) is not text.") % {"p": properties.parent})
        elif len(parent) > PCODE_MAX_LENGTH:
            read.reasons.append(_("the parent P-code is longer than %(n)s characters.") % {"n": PCODE_MAX_LENGTH})
        elif parent and parent == read.pcode:
            read.reasons.append(_("the area names itself as its parent."))
        else:
            read.parent_pcode = parent

    geometry = feature.get("geometry")
    if geometry is None:
        read.reasons.append(_("the feature has no geometry."))
    elif not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        kind = geometry.get("type") if isinstance(geometry, dict) else None
        read.reasons.append(
            _("the geometry is a %(type)s; boundaries must be a Polygon or a MultiPolygon.") % {"type": kind}
            if isinstance(kind, str) and kind else _("the geometry is not a GeoJSON geometry object."))
    else:
        try:
            read.geometry = clean_geometry(geometry)
        except FormatError as exc:
            read.reasons.append(exc.message)
        except RecursionError:
            read.reasons.append(_("the geometry nests too deeply."))
    return read


def pcode_hint(feature: Any, pcode_property: str) -> str:
    """The P-code as written, for naming a rejected feature even when it is not usable."""
    props = feature.get("properties") if isinstance(feature, dict) else None
    if isinstance(props, dict):
        value = text(props.get(pcode_property))
        if value:
            return value[:PCODE_MAX_LENGTH] + ("…" if len(value) > PCODE_MAX_LENGTH else "")
    return ""
