"""Maintenance commands that write the service's files run as the service's user.

``civmil backup``, ``civmil restore`` and ``civmil ledger rotate-key`` write keys, attachments and
archives. Run as root on a host where ``CIVMIL_VAR_DIR`` belongs to the service user, they would
leave root-owned files the service cannot read (a restored ``ledger_signing_key`` the servers
cannot open). So they refuse, and say how to run them instead. A deployment whose var directory
belongs to root (a container running as root) is left alone.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError
from django.utils.translation import gettext as _


def refuse_root(command: str) -> None:
    """Raise ``CommandError`` when running as root while ``CIVMIL_VAR_DIR`` belongs to another user."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return
    var_dir = Path(settings.CIVMIL_VAR_DIR)
    try:
        owner = var_dir.stat().st_uid
    except OSError:
        return  # no var directory yet: nobody else's files to protect
    if owner == 0:
        return
    try:
        user = pwd.getpwuid(owner).pw_name
    except KeyError:
        user = str(owner)
    raise CommandError(_(
        "'civmil %(command)s' is running as root, but CIVMIL_VAR_DIR (%(dir)s) belongs to %(user)s: the files "
        "it writes would belong to root and the service could not read them. Run it as %(user)s, with the "
        "service's environment: 'civmil-admin %(command)s ...' (docs/deploy.md), or\n"
        "  set -a; . /etc/civmil/civmil.env; set +a\n"
        "  sudo -E -u %(user)s /opt/civmil/venv/bin/civmil %(command)s ...") % {
            "command": command, "dir": var_dir, "user": user})
