"""``civmil erase_person``: erase a person's personal data, approved by a named administrator.

The operator at the console makes the request; the administrator named by ``--approved-by`` is the
second person who approves it. See docs/user/erasure.md.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils.translation import gettext as _

from civmil.core.accounts import erasure
from civmil.core.choices import Role
from civmil.core.errors import ServiceError
from civmil.core.management import support
from civmil.core.models import Person


class Command(BaseCommand):
    help = "Erase a person's personal data (name, contact details, account), approved by an administrator."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("person_id", metavar="PERSON_ID", help=_("The person's id (a UUID)."))
        parser.add_argument("--reason", required=True, help=_("Why the data are erased (kept in the ledger)."))
        parser.add_argument("--approved-by", dest="approved_by", required=True, metavar="USERNAME",
                            help=_("The administrator account that approves the erasure."))

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            pk = uuid.UUID(str(options["person_id"]))
        except ValueError as exc:
            raise CommandError(_("%(value)s is not a person id.") % {"value": options["person_id"]}) from exc
        person = Person.objects.filter(pk=pk).first()
        if person is None:
            raise CommandError(_("No person with the id %(id)s.") % {"id": pk})
        approver = support.approver(options["approved_by"], {Role.ADMINISTRATOR})
        try:
            with transaction.atomic():
                request = erasure.request_erasure(None, person, options["reason"])
                erasure.approve_erasure(approver, request)
        except ServiceError as exc:
            details = "; ".join(str(m) for messages in exc.errors.values() for m in messages)
            raise CommandError(f"{exc.message} {details}".strip()) from exc
        person.refresh_from_db()
        self.stdout.write(_("Erased the personal data of person %(person)s, now named %(new)s (request %(id)s).")
                          % {"person": person.pk, "new": person.full_name, "id": request.pk})
