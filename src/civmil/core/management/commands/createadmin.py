"""``civmil createadmin``: one of the first two administrators, created at the console.

Further administrators are added in the application, where a second administrator approves
them; the console refuses a third.
"""

from __future__ import annotations

import getpass
import sys
from typing import Any

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email
from django.db import models, transaction
from django.utils.translation import gettext as _

from civmil.core import services
from civmil.core.choices import Component, MembershipStatus, OrganisationKind, Role
from civmil.core.errors import ServiceError
from civmil.core.models import Membership, Organisation, Space, User

#: The console creates at most this many administrators (``services.create_console_admin`` enforces it).
CONSOLE_ADMINISTRATORS = 2


def service_error(exc: ServiceError) -> CommandError:
    """A service's refusal as a command error: the message, then each field's messages."""
    lines = [exc.message]
    for name, messages in exc.errors.items():
        lines.extend(f"  {name}: {message}" for message in messages)
    return CommandError("\n".join(lines))


def ask(label: str, *, secret: bool = False) -> str:
    """Prompt at the terminal (the caller checks that there is one)."""
    try:
        return getpass.getpass(f"{label}: ") if secret else input(f"{label}: ").strip()
    except (EOFError, KeyboardInterrupt) as exc:
        raise CommandError(_("Cancelled.")) from exc


def value(options: dict[str, Any], name: str, label: str, *, interactive: bool, required: bool = True) -> str:
    """An option's value, or a prompt for it when the command runs at a terminal."""
    given = str(options.get(name) or "").strip()
    if given or not required:
        return given
    if interactive:
        while not given:
            given = ask(label)
        return given
    raise CommandError(_("Give --%(option)s (or run the command at a terminal to be asked).")
                       % {"option": name.replace("_", "-")})


def checked_username(username: str) -> str:
    field = User._meta.get_field("username")
    try:
        field.clean(username, None)
    except ValidationError as exc:
        raise CommandError(_("Username %(u)s is not valid: %(why)s") % {"u": username, "why": " ".join(exc.messages)}
                           ) from exc
    if User.objects.filter(username__iexact=username).exists():
        raise CommandError(_("The username %(u)s is taken; choose another.") % {"u": username})
    return username


def checked_email(email: str) -> str:
    try:
        validate_email(email)
    except ValidationError as exc:
        raise CommandError(_("%(e)s is not a valid e-mail address.") % {"e": email}) from exc
    return email


def password(options: dict[str, Any], *, interactive: bool, required: bool, username: str, email: str) -> str:
    """The password from --password or typed twice at the terminal, checked by the password rules."""
    given = str(options.get("password") or "")
    if not given and interactive:
        while True:
            given = ask(_("Password"), secret=True)
            if not given and not required:
                return ""
            if given == ask(_("Password (again)"), secret=True):
                break
            sys.stderr.write(_("The two passwords differ; try again.") + "\n")
    if not given:
        if required:
            raise CommandError(_("Give --password (or run the command at a terminal to type it)."))
        return ""
    try:
        password_validation.validate_password(given, User(username=username, email=email))
    except ValidationError as exc:
        raise CommandError(_("The password is refused: %(why)s") % {"why": " ".join(exc.messages)}) from exc
    return given


def find_organisation(text: str) -> Organisation:
    """The organisation with this name or acronym (case-insensitive)."""
    matches = list(Organisation.objects.filter(models.Q(name__iexact=text) | models.Q(acronym__iexact=text)))
    if not matches:
        raise CommandError(_("No organisation is named or abbreviated %(o)s. Check the spelling, or create the "
                             "organisation first.") % {"o": text})
    if len(matches) > 1:
        raise CommandError(_("Several organisations match %(o)s: %(list)s. Give the full name.")
                           % {"o": text, "list": "; ".join(o.name for o in matches)})
    return matches[0]


def mission_headquarters() -> Organisation:
    """The mission headquarters, created when there is none yet."""
    hqs = list(Organisation.objects.filter(kind=OrganisationKind.MISSION_HQ))
    if len(hqs) > 1:
        raise CommandError(_("There are several mission headquarters (%(list)s); say which with --organisation.")
                           % {"list": "; ".join(o.name for o in hqs)})
    if hqs:
        return hqs[0]
    settings = services.mission_settings(Space.live().pk)
    name = f"{settings.mission_acronym or settings.mission_name} headquarters"
    if Organisation.objects.filter(name__iexact=name).exists():
        raise CommandError(_("An organisation named %(o)s exists but is not a mission headquarters; say which "
                             "organisation with --organisation.") % {"o": name})
    return services.save_organisation(None, Organisation(
        name=name, acronym=settings.mission_acronym or "HQ", component=Component.CIVILIAN,
        kind=OrganisationKind.MISSION_HQ))


class Command(BaseCommand):
    help = "Create one of the first two administrators (further ones are approved in the application)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username")
        parser.add_argument("--email")
        parser.add_argument("--full-name", dest="full_name")
        parser.add_argument("--organisation",
                            help=_("Name or acronym of the administrator's organisation (default: the mission "
                                   "headquarters, created if there is none)."))
        parser.add_argument("--password", help=_("The password (otherwise typed at the terminal)."))
        parser.add_argument("--no-input", "--noinput", dest="interactive", action="store_false",
                            help=_("Never prompt; fail when a value is missing."))

    def handle(self, *args: Any, **options: Any) -> None:
        interactive = bool(options["interactive"]) and sys.stdin.isatty()
        # Say it before asking for anything; the service refuses it again in its transaction.
        if Membership.objects.filter(role=Role.ADMINISTRATOR, status=MembershipStatus.ACTIVE).count() \
                >= CONSOLE_ADMINISTRATORS:
            raise CommandError(_("There are already two administrators; further ones need approval in the "
                                 "application."))
        username = checked_username(value(options, "username", _("Username"), interactive=interactive))
        email = checked_email(value(options, "email", _("E-mail"), interactive=interactive))
        full_name = value(options, "full_name", _("Full name"), interactive=interactive)
        organisation = str(options.get("organisation") or "").strip()
        secret = password(options, interactive=interactive, required=True, username=username, email=email)
        try:
            with transaction.atomic():
                org = find_organisation(organisation) if organisation else mission_headquarters()
                services.create_console_admin(username=username, email=email, password=secret,
                                              full_name=full_name, organisation=org)
        except ServiceError as exc:
            raise service_error(exc) from exc
        self.stdout.write(self.style.SUCCESS(
            _("Administrator %(u)s created in %(o)s.") % {"u": username, "o": org.name}))
