"""The ``civmil`` command: Django's management commands with civmil's settings.

The environment is read first: a variable that is missing or cannot be used stops every
command with one line, ``civmil: VARIABLE: what is wrong``, and exit status 1.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civmil.config.settings")
    from civmil.config.env import deployment
    from civmil.config.storage import default_storage

    try:
        deployment()
        default_storage()  # CIVMIL_MEDIA_STORAGE and the S3 variables
    except ValueError as exc:  # EnvironmentProblem: "VARIABLE: what is wrong"
        print(f"civmil: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    from django.core.management import execute_from_command_line

    execute_from_command_line(["civmil", *(argv if argv is not None else sys.argv[1:])])


if __name__ == "__main__":
    main()
