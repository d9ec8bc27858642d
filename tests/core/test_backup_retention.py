"""Backup retention: ``civmil backup --output DIR --keep-daily/--keep-weekly/--keep-monthly`` keeps the
newest archive of each recent day, week and month, and never touches a file it did not name."""

from __future__ import annotations

import datetime as dt
import io
import os
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from civmil.core.backups import retention
from civmil.core.backups.retention import Policy
from tests.factories import make_org

UTC = dt.UTC


def _name(when: dt.datetime, encrypted: bool = False) -> str:
    return retention.archive_name(when, encrypted=encrypted)


def _nightly(first: dt.datetime, days: int) -> dict[Path, dt.datetime]:
    """One archive a night at 02:30 for ``days`` nights from ``first``."""
    return {Path(_name(first + dt.timedelta(days=n))): first + dt.timedelta(days=n) for n in range(days)}


def _dates(kept: set[Path], found: dict[Path, dt.datetime]) -> list[str]:
    return sorted(found[path].strftime("%Y-%m-%d") for path in kept)


def test_seven_daily_four_weekly_six_monthly_over_a_year_of_nightly_backups() -> None:
    found = _nightly(dt.datetime(2026, 1, 1, 2, 30, tzinfo=UTC), 365)  # to 2026-12-31, a Thursday
    kept = retention.to_keep(found, Policy(daily=7, weekly=4, monthly=6))
    assert set(_dates(kept, found)) == {
        "2026-12-25", "2026-12-26", "2026-12-27", "2026-12-28", "2026-12-29", "2026-12-30", "2026-12-31",
        "2026-12-13", "2026-12-20",
        "2026-07-31", "2026-08-31", "2026-09-30", "2026-10-31", "2026-11-30",
    }


def test_the_newest_of_several_archives_a_day_is_the_one_kept() -> None:
    day = dt.datetime(2026, 3, 2, tzinfo=UTC)
    found = {Path(_name(day + dt.timedelta(hours=h))): day + dt.timedelta(hours=h) for h in (1, 9, 17)}
    kept = retention.to_keep(found, Policy(daily=1))
    assert [found[p].hour for p in kept] == [17]


def test_days_without_a_backup_do_not_count() -> None:
    # A host off for two weeks still keeps three daily backups, not zero.
    found = {Path(_name(when)): when for when in (dt.datetime(2026, 5, d, 2, 30, tzinfo=UTC) for d in (1, 2, 3))}
    assert len(retention.to_keep(found, Policy(daily=3))) == 3


def test_no_rule_keeps_nothing_but_prunes_nothing(tmp_path: Path) -> None:
    (tmp_path / _name(dt.datetime(2020, 1, 1, tzinfo=UTC))).write_bytes(b"old")
    assert retention.prune(tmp_path, Policy()) == []
    assert len(list(tmp_path.iterdir())) == 1


def test_prune_deletes_only_archives_it_named(tmp_path: Path) -> None:
    old = [dt.datetime(2026, 1, d, 2, 30, tzinfo=UTC) for d in range(1, 11)]
    for when in old:
        (tmp_path / _name(when, encrypted=when.day % 2 == 0)).write_bytes(b"archive")
    strangers = [
        "notes.txt",
        "civmil-backup-20250101T000000Z.tar.gz.partial",   # unfinished
        "civmil-backup-20250101T000000Z.tar.gz.sha256",
        "other-civmil-backup-20250101T000000Z.tar.gz",
        "civmil-backup-2025-01-01.tar.gz",                 # made by hand, another pattern
        "civmil-backup-20251399T000000Z.tar.gz",           # the digits, but no date
        "CIVMIL-BACKUP-20250101T000000Z.TAR.GZ",
    ]
    for name in strangers:
        (tmp_path / name).write_bytes(b"keep me")
    (tmp_path / "civmil-backup-20250102T000000Z.tar.gz").mkdir()  # a directory with an archive's name
    target = tmp_path / "elsewhere.bin"
    target.write_bytes(b"the link's target")
    (tmp_path / "civmil-backup-20250103T000000Z.tar.gz").symlink_to(target)
    deleted = retention.prune(tmp_path, Policy(daily=3))
    assert [p.name for p in deleted] == [_name(w, encrypted=w.day % 2 == 0) for w in old[:7]]
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([*strangers, "civmil-backup-20250102T000000Z.tar.gz", "elsewhere.bin",
                           "civmil-backup-20250103T000000Z.tar.gz",
                           *(_name(w, encrypted=w.day % 2 == 0) for w in old[7:])])
    assert target.read_bytes() == b"the link's target"


def test_the_archive_just_written_is_never_deleted(tmp_path: Path) -> None:
    # Clock set back: the new archive's name is older than those already there.
    for day in (10, 11):
        (tmp_path / _name(dt.datetime(2026, 6, day, tzinfo=UTC))).write_bytes(b"a")
    new = tmp_path / _name(dt.datetime(2026, 6, 1, tzinfo=UTC))
    new.write_bytes(b"new")
    deleted = retention.prune(tmp_path, Policy(daily=1), protect=[new])
    assert new.exists() and [p.name for p in deleted] == [_name(dt.datetime(2026, 6, 10, tzinfo=UTC))]


@pytest.fixture
def var_dir(settings: Any, tmp_path: Path) -> Path:
    var = tmp_path / "var"
    (var / "media").mkdir(parents=True)
    settings.CIVMIL_VAR_DIR = var
    settings.MEDIA_ROOT = var / "media"
    return var


def test_the_command_prunes_after_a_successful_backup(transactional_db: Any, var_dir: Path, tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    backups.mkdir()
    now = dt.datetime.now(UTC)
    older = [now - dt.timedelta(days=n) for n in (1, 2, 3, 40)]
    for when in older:
        (backups / _name(when)).write_bytes(b"an older backup")
    (backups / "README").write_text("off-site copies are made from here\n")
    make_org()
    out = io.StringIO()
    call_command("backup", "--output", str(backups), "--keep-daily", "2", stdout=out)
    names = {p.name for p in backups.iterdir()}
    new = names - {_name(w) for w in older} - {"README"}
    assert len(new) == 1 and next(iter(new)).startswith("civmil-backup-")
    # Kept: today's (the new one) and yesterday's; the README is never touched.
    assert names == new | {_name(older[0]), "README"}
    for when in older[1:]:
        assert f"deleted {backups / _name(when)}" in out.getvalue()


def test_a_failed_backup_prunes_nothing(transactional_db: Any, var_dir: Path, tmp_path: Path,
                                        monkeypatch: Any) -> None:
    from django.core.management.base import CommandError

    from civmil.core.management.commands import backup as backup_command

    backups = tmp_path / "backups"
    backups.mkdir()
    old = backups / _name(dt.datetime(2020, 1, 1, tzinfo=UTC))
    old.write_bytes(b"the only backup")

    def broken(scratch: Path) -> Any:
        raise CommandError("pg_dump failed: the server went away")

    monkeypatch.setattr(backup_command, "copy_database", broken)
    with pytest.raises(CommandError, match="pg_dump failed"):
        call_command("backup", "--output", str(backups), "--keep-daily", "1", stdout=io.StringIO())
    assert os.listdir(backups) == [old.name]
