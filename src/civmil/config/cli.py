"""The ``civmil`` command: Django's management commands with civmil's settings."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civmil.config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["civmil", *(argv if argv is not None else sys.argv[1:])])


if __name__ == "__main__":
    main()
