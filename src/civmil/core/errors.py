"""Errors a service raises for something the user can fix. Views and the API map them to 4xx."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """Base: carries a message for the user and, optionally, per-field messages."""

    status = 400

    def __init__(self, message: str, *, errors: dict[str, list[str]] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}
        self.extra = extra


class Invalid(ServiceError):
    status = 422


class Forbidden(ServiceError):
    status = 403


class NotFound(ServiceError):
    """Also raised for a record the reader may not see: it answers exactly like a missing one."""

    status = 404


class StaleEdit(ServiceError):
    """The record changed since the editor loaded it; nothing was written.

    ``current_version`` is the record's version now. ``merge`` (a :class:`civmil.core.merge.Merge`,
    when the service could build one) holds, field by field, the value of the version the editor
    loaded, theirs now and the editor's, and what a three-way merge makes of them.
    """

    status = 409

    def __init__(self, message: str, *, current_version: int, merge: Any = None, **extra: Any) -> None:
        super().__init__(message, current_version=current_version, **extra)
        self.current_version = current_version
        self.merge = merge


def validation_errors(exc: Any) -> dict[str, list[str]]:
    """Turn a Django ``ValidationError`` into ``{field: [messages]}``."""
    if hasattr(exc, "message_dict"):
        return {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
    return {"__all__": [str(m) for m in getattr(exc, "messages", [str(exc)])]}


#: Longest reason a service keeps for an act (deactivation, erasure...).
MAX_REASON = 500


def required_reason(reason: str | None, missing: str, *, field: str = "reason", max_length: int = MAX_REASON) -> str:
    """``reason`` stripped, or :class:`Invalid` naming ``field``: ``missing`` when it is empty, the
    usual length message when it is longer than ``max_length``."""
    from django.utils.translation import gettext as _

    reason = (reason or "").strip()
    if not reason:
        raise Invalid(missing, errors={field: [_("This field is required.")]})
    if len(reason) > max_length:
        raise Invalid(_("Some fields are not valid."), errors={field: [
            _("Ensure this value has at most %(max_length)s characters.") % {"max_length": max_length}]})
    return reason
