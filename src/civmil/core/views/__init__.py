"""Core's pages: :mod:`.general` (home, switching the acting membership, the language, error
pages) and :mod:`.approvals` (what waits for a second administrator, and account links). The
accounts' own pages are in :mod:`civmil.core.accounts.views`; the record kernel's in
:mod:`civmil.core.kernel.views`."""
