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
    """The record changed since the editor loaded it."""

    status = 409


def validation_errors(exc: Any) -> dict[str, list[str]]:
    """Turn a Django ``ValidationError`` into ``{field: [messages]}``."""
    if hasattr(exc, "message_dict"):
        return {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
    return {"__all__": [str(m) for m in getattr(exc, "messages", [str(exc)])]}
