"""The record kernel: from a record type's declaration (:class:`civmil.core.registry.RecordType`
with its :class:`~civmil.core.registry.FieldSpec` fields), its list and record pages, CSV, history,
releases, forms with the three-way merge of a stale edit, live rows and cards, and its API router.

* :mod:`.fields` — the declared fields resolved against the model, and how each is shown
* :mod:`.queries` — the list with its filters, through the access policy
* :mod:`.forms` — filter, create/edit (with merge) and release forms
* :mod:`.views` and :mod:`.urls` — the pages
* :mod:`.api` — the django-ninja router factory
"""
