"""Reading a directory CSV file into rows: the file's rules and its columns (pure: no database)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from civmil.core.formats import grouped, megabytes

if TYPE_CHECKING:

    pass


MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000

ORGANISATIONS = "organisations"
PEOPLE = "people"
KIND_CHOICES = [(ORGANISATIONS, gettext_lazy("Organisations")), (PEOPLE, gettext_lazy("People"))]

ORGANISATION_COLUMNS = ("name", "acronym", "component", "kind", "parent", "country", "contact_email",
                        "contact_phone", "website", "description")
PERSON_COLUMNS = ("full_name", "title", "email", "phone", "radio_call_sign", "messaging", "languages",
                  "organisation", "role", "position", "contact_level")
COLUMNS = {ORGANISATIONS: ORGANISATION_COLUMNS, PEOPLE: PERSON_COLUMNS}
REQUIRED = {ORGANISATIONS: ("name",), PEOPLE: ("full_name", "organisation")}


@dataclass(frozen=True)
class Row:
    number: int
    values: dict[str, str]


@dataclass
class ParsedFile:
    rows: list[Row] = field(default_factory=list)
    error: str = ""
    #: Rows refused while parsing (for example more cells than columns): row number -> reasons.
    bad_rows: dict[int, list[str]] = field(default_factory=dict)


def too_large_message(size: int) -> str:
    return _("The file is %(size)s MB; the limit is %(max)s MB. Split it into several files.") % {
        "size": megabytes(size), "max": MAX_FILE_BYTES // 1024 // 1024}


def unquote_cell(value: str) -> str:
    """Undo the export's formula guard and trim the cell."""
    value = value.strip()
    if len(value) > 1 and value[0] == "'" and value[1] in "=+-@":
        return value[1:]
    return value


def _header_key(name: str) -> str:
    return "_".join(name.strip().lower().replace("-", " ").split())


#: An HXL hashtag with its attributes, such as ``#org`` or ``#targeted +f +adults``.
_HXL_TAG = re.compile(r"^#[A-Za-z][A-Za-z0-9_]*(\s*\+\s*[A-Za-z][A-Za-z0-9_]*)*$")
#: How many lines are searched for a row of HXL hashtags when the header is not understood.
_HXL_LOOKAHEAD = 5
#: Most unknown header names named in a message.
_SHOWN_COLUMNS = 12


def _hashtag_row(cells: Sequence[str], *, every: bool = False) -> bool:
    """Is this a row of HXL hashtags: at least half its non-empty cells are (``every``: all of them)?"""
    filled = [c.strip() for c in cells if c.strip()]
    tags = sum(1 for c in filled if _HXL_TAG.match(c))
    return bool(filled) and (tags == len(filled) if every else 2 * tags >= len(filled))


def _shown(name: str) -> str:
    """A header name as it can be quoted in a message: on one line, and not too long."""
    name = " ".join(name.split())
    return name if len(name) <= 40 else name[:39] + "…"


def _unknown_columns(header: list[str], unknown: list[str], reader: Iterable[list[str]], columns: Sequence[str]) -> str:
    """Why a header is not understood; an HXL dataset (a row of #hashtags near the top) is named as such."""
    if _hashtag_row(header):
        hxl_row: int | None = 1
    else:
        hxl_row = None
        try:
            for number, cells in enumerate(reader, start=2):
                if number > _HXL_LOOKAHEAD:
                    break
                if _hashtag_row(cells):
                    hxl_row = number
                    break
        except csv.Error:
            pass
    allowed = ", ".join(columns)
    if hxl_row is not None:
        return _("This is an HXL dataset (row %(n)s holds #hashtags), not a directory file. A directory file has a "
                 "header line with these columns: %(columns)s.") % {"n": hxl_row, "columns": allowed}
    names = [_shown(h) for h in unknown[:_SHOWN_COLUMNS]]
    if len(unknown) > _SHOWN_COLUMNS:
        more = len(unknown) - _SHOWN_COLUMNS
        names.append(ngettext("and %(n)s more column", "and %(n)s more columns", more) % {"n": more})
    return _("Unknown column(s): %(unknown)s. The columns are: %(columns)s.") % {
        "unknown": ", ".join(names), "columns": allowed}


def parse(data: bytes, kind: str) -> ParsedFile:
    """Read a CSV file of ``kind`` (organisations or people) into rows keyed by column name."""
    columns = COLUMNS[kind]
    if len(data) > MAX_FILE_BYTES:
        return ParsedFile(error=too_large_message(len(data)))
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return ParsedFile(error=_("The file is not UTF-8 text. Save it from your spreadsheet as 'CSV UTF-8'."))
    if "\x00" in text:
        return ParsedFile(error=_("The file is not a CSV text file."))
    if not text.strip():
        return ParsedFile(error=_("The file is empty."))
    first_line = text.split("\n", 1)[0]
    if first_line.count("\t") > max(first_line.count(";"), first_line.count(",")):
        return ParsedFile(error=_("The file is separated by tabs; the directory import reads comma or semicolon "
                                  "separated files. Save it from your spreadsheet as 'CSV UTF-8'."))
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        return ParsedFile(error=_("The file has no header line."))
    keys = [_header_key(h) for h in header]
    unknown = [h for h, k in zip(header, keys, strict=True) if k and k not in columns]
    if unknown:
        return ParsedFile(error=_unknown_columns(header, unknown, reader, columns))
    seen: set[str] = set()
    for k in keys:
        if k and k in seen:
            return ParsedFile(error=_("The column %(name)s appears twice.") % {"name": k})
        seen.add(k)
    missing = [c for c in REQUIRED[kind] if c not in seen]
    if missing:
        return ParsedFile(error=_("Required column(s) missing: %(missing)s.") % {"missing": ", ".join(missing)})
    parsed = ParsedFile()
    number = 1
    try:
        for cells in reader:
            number += 1
            if not any(c.strip() for c in cells):
                continue
            if len(parsed.rows) + len(parsed.bad_rows) >= MAX_ROWS:
                return ParsedFile(error=_("The file has more than %(max)s rows; split it into several files.") % {
                    "max": grouped(MAX_ROWS)})
            if len(cells) > len(keys) and any(c.strip() for c in cells[len(keys):]):
                parsed.bad_rows[number] = [_("The row has more cells than the header has columns.")]
                continue
            if _hashtag_row(cells, every=True):
                parsed.bad_rows[number] = [_("The row holds HXL hashtags (such as #org), not a record; remove it.")]
                continue
            values = {c: "" for c in columns}
            for key, cell in zip(keys, cells, strict=False):
                if key:
                    values[key] = unquote_cell(cell)
            parsed.rows.append(Row(number, values))
    except csv.Error as exc:
        return ParsedFile(error=_("Row %(n)s cannot be read as CSV (%(why)s).") % {"n": number, "why": exc})
    if not parsed.rows and not parsed.bad_rows:
        return ParsedFile(error=_("The file has a header but no rows."))
    return parsed
