"""A new notification refreshes its recipient's badge and list on every open page, at once."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import transaction

from civmil.core.choices import Component, Level
from tests.core.test_events import TIMEOUT, next_frame, record_sync, session_for, socket
from tests.factories import make_member

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def in_memory_layer(settings: Any) -> None:
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.mark.asyncio
@pytest.mark.usefixtures("in_memory_layer")
async def test_a_mention_tells_the_recipients_pages_and_nobody_elses() -> None:
    from civmil.comms.services import threads

    @database_sync_to_async
    def cast() -> tuple[Any, Any, Any, Any]:
        author, named, bystander = (make_member(Component.CIVILIAN) for _ in range(3))
        entry, _ = record_sync(author, "water point", Level.MISSION)
        return author, named, bystander, entry

    author, named, bystander, entry = await cast()
    async with socket(await session_for(named)) as ws, socket(await session_for(bystander)) as other:
        assert (await ws.connect(timeout=TIMEOUT))[0] and (await other.connect(timeout=TIMEOUT))[0]

        @database_sync_to_async
        def mention() -> None:
            with transaction.atomic():
                threads.post_message(author.actor, "actors.liaisonlogentry", entry.pk, "Can you check?",
                                     [named.person.pk])

        await mention()
        assert await next_frame(ws) == {"type": "notice", "topic": "notifications"}
        assert await other.receive_nothing(timeout=0.3)
