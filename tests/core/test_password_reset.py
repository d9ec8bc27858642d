"""Password reset by e-mail, through a real SMTP server started by the test (aiosmtpd)."""

from __future__ import annotations

import email
import re
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.test import Client, override_settings

from civmil.core.choices import Component
from tests.factories import make_member


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[_Inbox, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _body(message: email.message.Message) -> str:
    parts = message.walk() if message.is_multipart() else [message]
    return "".join(p.get_payload(decode=True).decode() for p in parts
                   if p.get_content_type() == "text/plain")


@pytest.mark.django_db
def test_a_password_is_reset_through_a_real_mail_server(smtp_server: tuple[_Inbox, int]) -> None:
    inbox, port = smtp_server
    member = make_member(Component.HUMANITARIAN)
    client = Client()
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
                           EMAIL_HOST="127.0.0.1", EMAIL_PORT=port, EMAIL_USE_TLS=False, EMAIL_USE_SSL=False):
        response = client.post("/accounts/password/reset/", {"email": member.user.email})
        assert response.status_code == 302
        unknown = client.post("/accounts/password/reset/", {"email": "nobody@example.org"})
        assert unknown.status_code == 302  # the same answer: no account enumeration
    assert len(inbox.messages) >= 1
    message = next(m for m in inbox.messages if m["To"] == member.user.email)
    link = re.search(r"https?://testserver(/accounts/password/reset/key/\S+/)", _body(message))
    assert link, _body(message)
    form = client.get(link.group(1), follow=True)
    assert form.status_code == 200
    set_url = form.redirect_chain[-1][0] if form.redirect_chain else link.group(1)
    new_password = "a-new-long-passphrase-42"
    done = client.post(set_url, {"password1": new_password, "password2": new_password})
    assert done.status_code == 302
    fresh = Client()
    assert fresh.post("/accounts/login/", {"login": member.user.username, "password": new_password}).status_code == 302
    assert fresh.get("/").status_code == 200
    member.user.refresh_from_db()
    assert member.user.check_password(new_password)
