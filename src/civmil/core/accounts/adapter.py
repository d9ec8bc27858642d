"""django-allauth adapter: accounts are created by administrators, never by self sign-up."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest

from civmil.core.mail import queue_mail


class AccountAdapter(DefaultAccountAdapter):  # type: ignore[misc]
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        """allauth's mails (password links, notices) leave through the job queue (civmil.core.mail):
        the form answers at once, whatever the mail server does."""
        message = self.render_mail(template_prefix, email, context)
        html = next((content for content, mimetype in getattr(message, "alternatives", [])
                     if mimetype == "text/html"), None)
        queue_mail(message.subject, message.body, list(message.to), html=html, from_email=message.from_email)
