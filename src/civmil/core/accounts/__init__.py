"""Accounts: their deactivation and reactivation, personal API tokens, and erasing a person's
personal data.

* :mod:`.services`: deactivating and reactivating accounts, creating and revoking tokens;
* :mod:`.api_auth`: the API's authentication by personal token;
* :mod:`.erasure`: erasing a person's personal data with a second person's approval;
* :mod:`.adapter`: django-allauth's adapter (no self sign-up);
* :mod:`.views`: the pages for tokens, deactivation and erasure (URLs in :mod:`civmil.core.urls`).

Invitations, password links and address changes wait for a second administrator and live with
the other approvals (:mod:`civmil.core.approvals`).
"""
