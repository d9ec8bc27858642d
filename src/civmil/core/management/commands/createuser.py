"""``civmil createuser``: an account with a non-privileged membership, for a new or existing person.

Privileged roles (administrator, mission leadership, oversight) are refused here: they take a
second administrator's approval in the application.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils.translation import gettext as _

from civmil.core import access, services
from civmil.core.choices import PRIVILEGED_ROLES, Level, Role
from civmil.core.errors import ServiceError
from civmil.core.management.commands.createadmin import (
    checked_email,
    checked_username,
    find_organisation,
    password,
    service_error,
    value,
)
from civmil.core.models import Membership, Organisation, Person
from civmil.core.models.identity import PERSON_CONTACT_LEVELS


def default_contact_level(org: Organisation) -> str:
    """MISSION where the organisation's members may hold it; otherwise RESTRICTED (named readers only)."""
    return Level.MISSION if org.component in access.LEVEL_AUDIENCE[Level.MISSION] else Level.RESTRICTED


def privileged_refusal(role: str) -> str | None:
    """Why the console refuses ``role`` (``None`` when it may be given here)."""
    if role not in PRIVILEGED_ROLES:
        return None
    return _(
        "%(role)s is a privileged role: it takes a second administrator's approval. Create the account here with "
        "a non-privileged role, then have an administrator request the %(role)s membership in the application; "
        "another administrator approves it."
    ) % {"role": Role(role).label}


class Command(BaseCommand):
    help = "Create a sign-in account with a non-privileged membership, for a new or an existing person."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username")
        parser.add_argument("--email", help=_("An existing person with this e-mail gets the account."))
        parser.add_argument("--full-name", dest="full_name", help=_("For a new person."))
        parser.add_argument("--organisation", help=_("Name or acronym of the organisation."))
        parser.add_argument("--role", choices=Role.values, metavar="ROLE", help=_("One of: %(roles)s.") % {
            "roles": ", ".join(r for r in Role.values if r not in PRIVILEGED_ROLES)})
        parser.add_argument("--position", default="")
        parser.add_argument("--contact-level", dest="contact_level", choices=PERSON_CONTACT_LEVELS, metavar="LEVEL",
                            help=_("Releasability of a new person's contact details (default: mission, or "
                                   "restricted for host-nation and community organisations)."))
        parser.add_argument("--password", help=_("The password (otherwise typed at the terminal, or none: the "
                                                 "person then sets one with a password reset)."))
        parser.add_argument("--no-input", "--noinput", dest="interactive", action="store_false",
                            help=_("Never prompt; fail when a value is missing."))

    def handle(self, *args: Any, **options: Any) -> None:
        interactive = bool(options["interactive"]) and sys.stdin.isatty()
        role = value(options, "role", _("Role"), interactive=interactive)
        if role not in Role.values:
            raise CommandError(_("Unknown role %(r)s; choose one of: %(roles)s.")
                               % {"r": role, "roles": ", ".join(Role.values)})
        refusal = privileged_refusal(role)
        if refusal:
            raise CommandError(refusal)
        username = checked_username(value(options, "username", _("Username"), interactive=interactive))
        email = checked_email(value(options, "email", _("E-mail"), interactive=interactive))
        org = find_organisation(value(options, "organisation", _("Organisation (name or acronym)"),
                                      interactive=interactive))
        people = list(Person.objects.filter(email__iexact=email))
        if len(people) > 1:
            raise CommandError(_("Several people have the e-mail %(e)s; give the account in the application "
                                 "instead.") % {"e": email})
        person = people[0] if people else None
        if person is not None and person.user_id is not None:
            raise CommandError(_("%(p)s already has an account.") % {"p": person.full_name})
        full_name = "" if person else value(options, "full_name", _("Full name"), interactive=interactive)
        secret = password(options, interactive=interactive, required=False, username=username, email=email)
        try:
            with transaction.atomic():
                if person is None:
                    level = options.get("contact_level") or default_contact_level(org)
                    person = services.save_person(None, Person(full_name=full_name, email=email, owner=org,
                                                               level=level))
                services.create_account(None, username=username, email=email, password=secret or None, person=person)
                if not Membership.objects.current().filter(person=person, organisation=org, role=role).exists():
                    services.add_membership(None, person=person, organisation=org, role=role,
                                            position=options.get("position") or "")
        except ServiceError as exc:
            raise service_error(exc) from exc
        self.stdout.write(self.style.SUCCESS(_("Account %(u)s created for %(p)s: %(role)s in %(o)s.") % {
            "u": username, "p": person.full_name, "role": Role(role).label, "o": org.name}))
        if not secret:
            self.stdout.write(_("No password was set: the person sets one with the password reset link on the "
                                "sign-in page."))
