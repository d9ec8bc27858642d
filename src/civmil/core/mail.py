"""Mail sent from a request leaves through the job queue, never from the request itself.

A request that talked to the mail server waited for it: with a slow or unanswering server, every
password-reset form held a request thread and a database connection for up to the mail timeout,
and forty anonymous posts took a production server down. :func:`queue_mail` stores the message
as a job (``django-tasks``) and returns at once; a worker (``civmil worker``, or the server's
embedded one) sends it. A failed send is logged with the job; the request has long answered.

The message may carry a one-time link (a password link), so the job row holds it encrypted with a
key derived from ``SECRET_KEY`` (Fernet): reading the database alone does not give the link; the
former keys (``SECRET_KEY_FALLBACKS``) still open messages queued before a rotation.

``CIVMIL_MAIL_QUEUE = False`` sends at once instead (the test suite, which reads ``mail.outbox``
right after a request).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django_tasks import task

logger = logging.getLogger("civmil.mail")

_CONTEXT = b"civmil.core.mail.v1"


def _fernet() -> MultiFernet:
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([Fernet(base64.urlsafe_b64encode(hashlib.sha256(_CONTEXT + str(k).encode()).digest()))
                        for k in keys])


def seal(message: dict[str, Any]) -> str:
    return _fernet().encrypt(json.dumps(message).encode()).decode("ascii")


def unseal(token: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_fernet().decrypt(token.encode("ascii")))
    return data


def _send(message: dict[str, Any]) -> None:
    email = EmailMultiAlternatives(message["subject"], message["body"], message.get("from_email"), message["to"])
    if message.get("html"):
        email.attach_alternative(message["html"], "text/html")
    email.send()


@task()
def deliver(sealed: str) -> bool:
    """Send one queued message (the job a worker runs)."""
    try:
        message = unseal(sealed)
    except InvalidToken:
        logger.error("a queued e-mail could not be opened (SECRET_KEY changed without a fallback); not sent")
        return False
    _send(message)
    return True


def queue_mail(subject: str, body: str, to: list[str], *, html: str | None = None,
               from_email: str | None = None) -> None:
    """Send a message without making the caller wait for the mail server (after commit)."""
    message = {"subject": str(subject), "body": str(body), "to": [str(a) for a in to],
               "html": html, "from_email": from_email}
    if not getattr(settings, "CIVMIL_MAIL_QUEUE", True):
        _send(message)
        return
    sealed = seal(message)
    transaction.on_commit(lambda: deliver.enqueue(sealed), robust=False)
