"""``civmil migrate``: Django's command, with a ``--check`` that says what is missing.

``civmil migrate --check`` is the gate before a server starts (``ExecStartPre=`` in the units; see
docs/upgrade.md). Like Django's, it exits 1 when the database is not at the state this version's
code expects; it also names the migrations concerned and the next step. An unreachable database is
refused with a message naming ``DATABASE_URL``, not a traceback.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError
from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.db.utils import OperationalError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext


class Command(DjangoMigrate):
    def execute(self, *args: Any, **options: Any) -> str | None:
        from civmil.core.checks import ping_database

        # A probe of its own gives up after a few seconds with the driver's reason, where the
        # server's connection pool would wait out its timeout and log each failed attempt. (A new
        # SQLite file is what a first `civmil migrate` creates: only the check requires one.)
        alias = options.get("database") or DEFAULT_DB_ALIAS
        if connections[alias].vendor != "sqlite" or options.get("check_unapplied"):
            try:
                ping_database(alias)
            except Exception as exc:  # whatever the driver raises, the database cannot be used
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise CommandError(_("Cannot use the database (DATABASE_URL): %(error)s")
                                   % {"error": first}) from exc
        try:
            return super().execute(*args, **options)
        except OperationalError as exc:  # raised by the system checks as well as by the migrations
            raise CommandError(_("Cannot use the database (DATABASE_URL): %(error)s")
                               % {"error": str(exc).strip()}) from exc

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            super().handle(*args, **options)
        except SystemExit as stop:
            if options.get("check_unapplied") and stop.code not in (0, None):
                self._tell_pending(options)
            raise

    def _tell_pending(self, options: dict[str, Any]) -> None:
        executor = MigrationExecutor(connections[options["database"]])
        graph = executor.loader.graph
        app_label = options.get("app_label")
        if app_label and options.get("migration_name"):
            targets = [(app_label, executor.loader.get_migration_by_prefix(app_label, options["migration_name"]).name)]
        elif app_label:
            targets = [key for key in graph.leaf_nodes() if key[0] == app_label]
        else:
            targets = graph.leaf_nodes()
        plan = executor.migration_plan(targets)
        forward = [f"{m.app_label}.{m.name}" for m, backwards in plan if not backwards]
        backward = [f"{m.app_label}.{m.name}" for m, backwards in plan if backwards]
        if forward:
            self.stderr.write(ngettext(
                "%(n)d migration is not applied: %(names)s.",
                "%(n)d migrations are not applied: %(names)s.", len(forward)) % {
                    "n": len(forward), "names": ", ".join(forward)})
        if backward:
            self.stderr.write(_("Applied beyond the target: %(names)s.") % {"names": ", ".join(backward)})
        self.stderr.write(_("This version of civmil does not match the database. Take a backup, review "
                            "'civmil migrate --plan', then run 'civmil migrate' (docs/upgrade.md)."))
