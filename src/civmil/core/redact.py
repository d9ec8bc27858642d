"""Showing configuration values in messages without their secrets."""

from __future__ import annotations


def shown_url(url: str) -> str:
    """``url`` with its password replaced by ``***``, however malformed the URL (a password with an
    unencoded ``#``, ``/`` or ``@`` still disappears)."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url
    return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"
