"""The old name of :mod:`civmil.core.accounts.services`, kept for the imports that still use it."""

from civmil.core.accounts.services import create_token as create_token
