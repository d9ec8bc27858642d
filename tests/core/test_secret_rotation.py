"""SECRET_KEY rotation (docs/operations.md): with the former key in SECRET_KEY_FALLBACKS, people
stay signed in (their session moves to the new key at their next request) and links already sent
keep working; without it, they are signed out and the links fail."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.test import Client

from tests.factories import make_member

pytestmark = pytest.mark.django_db


def test_a_rotated_key_keeps_sessions_and_reset_links_while_it_is_a_fallback(settings: Any) -> None:
    active, away = make_member(), make_member()
    active_client, away_client = Client(), Client()
    active_client.force_login(active.user)
    away_client.force_login(away.user)
    link_token = default_token_generator.make_token(away.user)

    former, settings.SECRET_KEY = settings.SECRET_KEY, secrets.token_urlsafe(50)
    settings.SECRET_KEY_FALLBACKS = [former]
    assert active_client.get("/").status_code == 200  # still signed in, now under the new key
    assert default_token_generator.check_token(away.user, link_token)

    settings.SECRET_KEY_FALLBACKS = []  # the fallback removed (too early for whoever stayed away)
    assert active_client.get("/").status_code == 200
    assert away_client.get("/").status_code == 302  # signed out: back to the sign-in page
    assert not default_token_generator.check_token(away.user, link_token)
