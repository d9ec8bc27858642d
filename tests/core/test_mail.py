"""Mail from a request leaves through the job queue: the request never waits for the mail server,
and the job row does not hold a password link in the clear."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django_tasks_db.models import DBTaskResult

from civmil.core import mail as civmil_mail
from civmil.core import schedule
from tests.factories import make_member


@pytest.fixture
def queued(settings: Any) -> None:
    settings.CIVMIL_MAIL_QUEUE = True


@pytest.mark.django_db(transaction=True)
def test_a_password_reset_answers_at_once_though_the_mail_server_never_answers(queued: None, settings: Any) -> None:
    tarpit = socket.socket()
    tarpit.bind(("127.0.0.1", 0))
    tarpit.listen(50)  # accepts connections, never says a word
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", tarpit.getsockname()[1], 3
    member = make_member(username="forgetful")
    try:
        started = time.monotonic()
        response = Client().post("/accounts/password/reset/", {"email": member.user.email})
        elapsed = time.monotonic() - started
    finally:
        tarpit.close()
    assert response.status_code == 302
    assert elapsed < 2.5  # below the mail timeout: the request did not talk to the mail server
    [job] = DBTaskResult.objects.filter(task_path="civmil.core.mail.deliver")
    assert "password" not in str(job.args_kwargs).lower()  # sealed, not readable in the row
    assert member.user.email not in str(job.args_kwargs)


@pytest.mark.django_db(transaction=True)
def test_the_worker_sends_the_queued_message_with_its_link(queued: None) -> None:
    member = make_member(username="forgetful2")
    assert Client().post("/accounts/password/reset/", {"email": member.user.email}).status_code == 302
    assert mail.outbox == []  # not sent by the request
    schedule.run_queued()
    [message] = mail.outbox
    assert message.to == [member.user.email] and "/accounts/password/reset/key/" in message.body


def test_a_sealed_message_opens_with_the_former_key_after_a_rotation(settings: Any) -> None:
    sealed = civmil_mail.seal({"subject": "s", "body": "link", "to": ["a@example.org"]})
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-key-" + "x" * 50
    assert civmil_mail.unseal(sealed)["body"] == "link"
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(civmil_mail.InvalidToken):
        civmil_mail.unseal(sealed)


def test_without_the_queue_mail_is_sent_at_once(settings: Any) -> None:
    settings.CIVMIL_MAIL_QUEUE = False
    civmil_mail.queue_mail("subject", "body", ["b@example.org"])
    assert [m.to for m in mail.outbox] == [["b@example.org"]]
