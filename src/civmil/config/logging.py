"""Logging: text by default, or one JSON object per line (``CIVMIL_LOG_FORMAT=json``).

Every line carries the time (UTC), level, logger, message and request id (``-`` outside a
request or a job: :mod:`civmil.core.observability`); access lines (logger ``civmil.access``) add
method, path, status, duration, route and client; job lines (``civmil.jobs``) add the job, its
start, end, duration and outcome. ``CIVMIL_LOG_LEVEL`` (default INFO) sets civmil's own level.

Django takes :func:`logging_config` as ``LOGGING``; ``civmil serve`` gives uvicorn
:func:`uvicorn_log_config` (the same configuration), so that uvicorn's lines are formatted alike.
uvicorn's own access lines are off by default (``civmil.access`` says the same with the duration
and request id); passing ``log_level`` to uvicorn turns them back on, formatted alike.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
#: Record attributes never written as JSON fields besides the standard ones: uvicorn's coloured
#: copy of the message, and Django's request object (its useful parts are in the access line).
_NOT_FIELDS = ("color_message", "request", "server_time")


def _utc(record: logging.LogRecord) -> str:
    return dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(timespec="milliseconds")


def json_formatter(**options: Any) -> logging.Formatter:
    """python-json-logger's formatter, ``time`` first in ISO 8601 UTC, no request id as ``null``.

    Built on first use: the library is imported only when JSON lines are asked for. Python's
    warnings then go through logging too (``py.warnings``), so that every line stays JSON.
    """
    logging.captureWarnings(True)
    from pythonjsonlogger.core import RESERVED_ATTRS
    from pythonjsonlogger.json import JsonFormatter

    class CivmilJsonFormatter(JsonFormatter):
        def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
            return _utc(record)

        def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
            if log_data.get("request_id") == "-":
                log_data["request_id"] = None
            return log_data

    return CivmilJsonFormatter(
        ["asctime", "levelname", "name", "message", "request_id"],
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        reserved_attrs=[*RESERVED_ATTRS, *_NOT_FIELDS], **options)


class UtcTextFormatter(logging.Formatter):
    """Text lines with the time in ISO 8601 UTC."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _utc(record)


def logging_config(log_format: str = "text", level: str = "INFO") -> dict[str, Any]:
    """The ``logging.config.dictConfig`` configuration for ``log_format`` (text or json)."""
    formatter = "json" if log_format == "json" else "text"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "civmil.core.observability.RequestIdFilter"},
            "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
        },
        "formatters": {
            "text": {"()": "civmil.config.logging.UtcTextFormatter", "format": TEXT_FORMAT},
            "json": {"()": "civmil.config.logging.json_formatter"},
        },
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": formatter, "filters": ["request_id"]},
            # Django's own: a 500's traceback by mail to ADMINS (CIVMIL_ADMINS), in production only.
            "mail_admins": {"class": "django.utils.log.AdminEmailHandler", "level": "ERROR",
                            "filters": ["require_debug_false"]},
        },
        "root": {"handlers": ["console"], "level": "WARNING"},
        "loggers": {
            "civmil": {"level": level},
            # Replaces Django's defaults, whose console handler would print a second, unformatted copy.
            "django": {"handlers": ["mail_admins"], "level": "INFO"},
            "django.request": {"level": "ERROR"},  # 4xx are in the access lines
            "django.server": {"level": "WARNING"},
            "py.warnings": {"handlers": []},  # (JSON) Python warnings: through the root handler only
            "uvicorn": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["console"], "level": "WARNING", "propagate": False},
            # The job lines of civmil.jobs say when a task ran and how it ended, with the traceback.
            "django_tasks": {"level": "CRITICAL"},
            "django_tasks_db": {"level": "WARNING"},
        },
    }


def uvicorn_log_config() -> dict[str, Any]:
    """What ``civmil serve`` passes as ``uvicorn.run(log_config=...)``: the same lines as Django's."""
    from civmil.config.env import deployment

    deploy = deployment()
    return logging_config(deploy.log_format, deploy.log_level)
