"""Which backups to keep in a directory: the newest of each of the last N days, weeks and months.

The rules are those of restic's ``forget --keep-daily/--keep-weekly/--keep-monthly``: for each
rule, archives are taken newest first, and the newest archive of each day (ISO week, month) is
kept until the rule has kept that many; an archive kept by any rule is kept. Periods with no
archive do not count, so a host that was off for a week still keeps seven daily backups.

Only files named exactly as ``civmil backup`` names them (``civmil-backup-YYYYMMDDTHHMMSSZ.tar.gz``,
or ``….tar.gz.age`` when encrypted) are ever considered, their date read from the name; anything
else in the directory — other files, sub-directories, symbolic links, unfinished ``.partial``
files — is never touched.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path

ARCHIVE_NAME = re.compile(r"civmil-backup-(\d{8}T\d{6}Z)\.tar\.gz(\.age)?")
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class Policy:
    """How many days, ISO weeks and months keep their newest archive (0: the rule is off)."""

    daily: int = 0
    weekly: int = 0
    monthly: int = 0

    @property
    def active(self) -> bool:
        return bool(self.daily or self.weekly or self.monthly)


def archive_name(when: dt.datetime, *, encrypted: bool) -> str:
    """The file name of an archive made at ``when`` (UTC)."""
    return f"civmil-backup-{when.strftime(STAMP_FORMAT)}.tar.gz" + (".age" if encrypted else "")


def made_at(path: Path) -> dt.datetime | None:
    """When the archive ``path`` was made, read from its name; ``None``: not a name backups get."""
    match = ARCHIVE_NAME.fullmatch(path.name)
    if match is None:
        return None
    try:
        return dt.datetime.strptime(match.group(1), STAMP_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError:  # 20261345T…: the pattern's digits but no date
        return None


def archives(directory: Path) -> dict[Path, dt.datetime]:
    """The backup archives in ``directory`` (regular files with a backup's name), with their dates."""
    found: dict[Path, dt.datetime] = {}
    for path in directory.iterdir():
        when = made_at(path)
        if when is not None and path.is_file() and not path.is_symlink():
            found[path] = when
    return found


def _newest_per_period(dated: list[tuple[dt.datetime, Path]], count: int,
                       period: Callable[[dt.datetime], Hashable]) -> set[Path]:
    kept: set[Path] = set()
    seen: set[Hashable] = set()
    for when, path in dated:
        if len(seen) >= count:
            break
        key = period(when)
        if key not in seen:
            seen.add(key)
            kept.add(path)
    return kept


def to_keep(found: dict[Path, dt.datetime], policy: Policy) -> set[Path]:
    """The archives ``policy`` keeps among ``found``."""
    dated = sorted(((when, path) for path, when in found.items()), key=lambda item: (item[0], item[1].name),
                   reverse=True)
    return (_newest_per_period(dated, policy.daily, lambda when: when.date())
            | _newest_per_period(dated, policy.weekly, lambda when: when.isocalendar()[:2])
            | _newest_per_period(dated, policy.monthly, lambda when: (when.year, when.month)))


def prune(directory: Path, policy: Policy, *, protect: Iterable[Path] = ()) -> list[Path]:
    """Delete the archives in ``directory`` that ``policy`` does not keep; returns them, oldest first.

    ``protect`` (the archive just written) is never deleted. Nothing is deleted when no rule is on.
    """
    if not policy.active:
        return []
    found = archives(directory)
    kept = to_keep(found, policy)
    protected = {Path(p).name for p in protect}
    doomed = sorted((path for path in found if path not in kept and path.name not in protected),
                    key=lambda path: found[path])
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed
