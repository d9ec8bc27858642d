"""The admin site, through the access policy.

Django's superuser and staff flags open no door here. The site lets in an active account whose
*acting* membership has the administrator role, and each page shows what that membership may
see:

* protected records (people here; liaison entries and assignments in the actors app) are
  read-only: lists hold only the records :func:`civmil.core.access.visible` lets through, and
  every column and field is shown only when the reader's view shows it (a person's contact
  details need the full view, or a release of that field). Edits happen in the application's
  pages, which go through the services;
* reference data (organisations, memberships, accounts, mission settings; areas in the actors
  app) is editable, and every save goes through its service (validation, ledger). A refusal
  from the service comes back on the form. Deleting is refused: no service deletes them;
* ledger entries, checkpoints, releases and grants are listings only, and no ledger change
  content is ever shown. The ledger lists the entries of records the reader may see, the
  reader's own acts, and entries that name no protected record.

Every list filters, searches, orders and drills down by date only on the model's *open fields*
(its own fields every view of a record shows; see :class:`PolicyAdmin`): no lookup follows a
relation into another record, and a refused lookup answers exactly as Django answers any
invalid one. Columns naming people (a membership's person, an account's person and e-mail
address, a release's or grant's person) show them as the reader's view of that person does.

Sign-in is the application's (rate limits, second factor): the admin has no login form of its
own. Django's admin log is not written; the ledger is the record of every change.

The package: :mod:`.base` (the policy's base classes), :mod:`.site` (the site and its door),
:mod:`.protected` (protected records, read-only), and the admins of the kernel's models:
:mod:`.people`, :mod:`.accounts`, :mod:`.mission`, :mod:`.ledger`. Importing the package
(Django's admin autodiscovery does) registers them all.
"""

from __future__ import annotations

# The site first: it puts the policy's door on Django's site, which then takes only policy admins.
from civmil.core.admin import site  # noqa: F401

# isort: split
from civmil.core.admin import accounts, ledger, mission, people  # noqa: F401 - importing them registers them
from civmil.core.admin.base import PolicyAdmin, ServiceAdmin, VersionedForm
from civmil.core.admin.protected import ProtectedAdmin, display_value
from civmil.core.admin.site import CivmilAdminSite

__all__ = ["CivmilAdminSite", "PolicyAdmin", "ProtectedAdmin", "ServiceAdmin", "VersionedForm", "display_value"]
