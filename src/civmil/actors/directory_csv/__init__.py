"""CSV import and export of the directory: organisations and people.

Parsing is pure (:func:`parse`: bytes -> rows). Planning (:func:`plan_organisations`,
:func:`plan_people`) reads the stored directory and decides, row by row, whether a row
creates a record, updates one, changes nothing, or is rejected (with its row number and every
reason). Nothing here writes: :func:`civmil.actors.services.import_directory` carries a plan out.

Rules of the file:

* UTF-8, with or without a byte-order mark; comma or semicolon separated (detected from the
  header line; a tab-separated file is refused with a message saying so); header names are
  case-insensitive (spaces count as underscores).
* An HXL dataset (a row of ``#hashtags`` near the top) is refused as such; a row of hashtags
  under a directory header is a rejected row, never a record.
* At most :data:`MAX_FILE_BYTES` bytes and :data:`MAX_ROWS` data rows.
* Row numbers count the header as row 1, so the first record is row 2.
* On an update an empty cell keeps the stored value (an export's withheld cells are empty,
  so importing an export never erases anything); a cell cannot clear a field.
* A leading apostrophe before ``= + - @`` (added by the export so that spreadsheets do not run
  a cell as a formula) is removed on import.

The package: :mod:`.parsing` (the file's rules and columns), :mod:`.plans` (what an import would
do) and :mod:`.export` (the CSV export).
"""

from __future__ import annotations

from civmil.actors.directory_csv.export import organisation_rows, person_rows
from civmil.actors.directory_csv.parsing import (
    COLUMNS,
    KIND_CHOICES,
    MAX_FILE_BYTES,
    MAX_ROWS,
    ORGANISATION_COLUMNS,
    ORGANISATIONS,
    PEOPLE,
    PERSON_COLUMNS,
    REQUIRED,
    ParsedFile,
    Row,
    parse,
    too_large_message,
    unquote_cell,
)
from civmil.actors.directory_csv.plans import (
    CREATE,
    UNCHANGED,
    UPDATE,
    DirectoryPlan,
    PlannedRow,
    RejectedRow,
    plan_file,
    plan_organisations,
    plan_people,
)

__all__ = ["COLUMNS", "CREATE", "KIND_CHOICES", "MAX_FILE_BYTES", "MAX_ROWS", "ORGANISATIONS", "ORGANISATION_COLUMNS",
           "PEOPLE", "PERSON_COLUMNS", "REQUIRED", "UNCHANGED", "UPDATE", "DirectoryPlan", "ParsedFile", "PlannedRow",
           "RejectedRow", "Row", "organisation_rows", "parse", "person_rows", "plan_file", "plan_organisations",
           "plan_people", "too_large_message", "unquote_cell"]
