"""A server process works on a few requests at once; the others wait their turn on the event loop."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from civmil.core.concurrency import ConcurrencyLimitMiddleware


@pytest.mark.asyncio
async def test_at_most_the_limit_of_requests_run_at_once_and_every_one_is_answered(settings: Any) -> None:
    settings.CIVMIL_WEB_THREADS = 3
    running, most = 0, 0

    async def view(request: HttpRequest) -> HttpResponse:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.01)
        running -= 1
        return HttpResponse(request.path)

    middleware = ConcurrencyLimitMiddleware(view)
    factory = RequestFactory()
    responses = await asyncio.gather(*(middleware(factory.get(f"/page/{n}")) for n in range(30)))  # type: ignore[misc]
    assert most == 3
    assert [r.content.decode() for r in responses] == [f"/page/{n}" for n in range(30)]


@pytest.mark.asyncio
async def test_a_failing_request_gives_its_turn_back(settings: Any) -> None:
    settings.CIVMIL_WEB_THREADS = 1

    async def view(request: HttpRequest) -> HttpResponse:
        if request.path == "/boom":
            raise ValueError("boom")
        return HttpResponse("ok")

    middleware = ConcurrencyLimitMiddleware(view)
    factory = RequestFactory()
    with pytest.raises(ValueError):
        await middleware(factory.get("/boom"))  # type: ignore[misc]
    response = await asyncio.wait_for(middleware(factory.get("/fine")), 2)  # type: ignore[misc]
    assert response.content == b"ok"


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_as_django_assembles_it_requests_run_in_the_process_request_threads(monkeypatch: Any) -> None:
    """Through Django's asynchronous handler (as in the server), the synchronous middleware and
    views run in the lent threads, not in a new thread per request."""
    import threading

    from django.test import AsyncClient

    from civmil.core.middleware import ActorMiddleware

    seen: list[str] = []
    original = ActorMiddleware.__call__

    def spy(self: ActorMiddleware, request: HttpRequest) -> HttpResponse:
        seen.append(threading.current_thread().name)
        return original(self, request)

    monkeypatch.setattr(ActorMiddleware, "__call__", spy)
    client = AsyncClient()
    for _ in range(3):
        assert (await client.get("/accounts/login/")).status_code == 200
    assert len(seen) == 3 and all(name.startswith("civmil-request-") for name in seen), seen


@pytest.mark.django_db
def test_under_the_synchronous_test_client_the_request_keeps_the_callers_thread(client: Any) -> None:
    import threading

    from civmil.core.middleware import ActorMiddleware

    seen: list[str] = []
    original = ActorMiddleware.__call__

    def spy(self: ActorMiddleware, request: HttpRequest) -> HttpResponse:
        seen.append(threading.current_thread().name)
        return original(self, request)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ActorMiddleware, "__call__", spy)
        assert client.get("/accounts/login/").status_code == 200
    assert seen == [threading.current_thread().name]


@pytest.mark.asyncio
async def test_requests_run_their_synchronous_code_in_a_few_long_lived_threads(settings: Any) -> None:
    """Each request's middleware and view run in one of the process's few threads, which are kept:
    their database connections then serve request after request."""
    import threading

    from asgiref.sync import sync_to_async

    settings.CIVMIL_WEB_THREADS = 2

    async def view(request: HttpRequest) -> HttpResponse:
        first = await sync_to_async(lambda: threading.current_thread().name)()
        await asyncio.sleep(0.005)
        second = await sync_to_async(lambda: threading.current_thread().name)()
        return HttpResponse(f"{first} {second}")

    middleware = ConcurrencyLimitMiddleware(view)
    factory = RequestFactory()
    responses = await asyncio.gather(*(middleware(factory.get("/")) for _ in range(20)))  # type: ignore[misc]
    pairs = [r.content.decode().split() for r in responses]
    assert all(first == second for first, second in pairs)  # one request, one thread
    assert {first for first, _ in pairs} == {"civmil-request-0_0", "civmil-request-1_0"}


async def _get_through_the_server_handler(handler: Any, path: str) -> tuple[int, bytes]:
    from asgiref.testing import ApplicationCommunicator

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
             "root_path": "", "headers": [(b"host", b"127.0.0.1")], "client": ("127.0.0.1", 5000),
             "server": ("127.0.0.1", 80)}
    app = ApplicationCommunicator(handler, scope)
    await app.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await app.receive_output(10)
    body = b""
    while True:
        message = await app.receive_output(10)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    return start["status"], body


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_server_handler_keeps_a_request_in_its_thread_from_middleware_to_view(monkeypatch: Any) -> None:
    """civmil's ASGI handler: the synchronous middleware calls the view directly, in the same lent
    thread, without going back to the event loop (Django's handler goes there through
    ``async_to_sync`` in the middle of every request)."""
    import threading

    from asgiref.sync import AsyncToSync

    from civmil.core.concurrency import ASGIHandler
    from civmil.core.middleware import ActorMiddleware

    handler = ASGIHandler()
    threads: list[str] = []
    back_to_the_loop: list[str] = []
    original_mw, original_a2s = ActorMiddleware.__call__, AsyncToSync.__call__

    def middleware_spy(self: ActorMiddleware, request: HttpRequest) -> HttpResponse:
        threads.append(threading.current_thread().name)
        return original_mw(self, request)

    def a2s_spy(self: AsyncToSync, *args: Any, **kwargs: Any) -> Any:
        back_to_the_loop.append(threading.current_thread().name)
        return original_a2s(self, *args, **kwargs)

    monkeypatch.setattr(ActorMiddleware, "__call__", middleware_spy)
    monkeypatch.setattr(AsyncToSync, "__call__", a2s_spy)
    view_threads: list[str] = []  # the sign-in view renders a template response
    from django.template.response import SimpleTemplateResponse

    original_render = SimpleTemplateResponse.render

    def render_spy(self: SimpleTemplateResponse) -> Any:
        view_threads.append(threading.current_thread().name)
        return original_render(self)

    monkeypatch.setattr(SimpleTemplateResponse, "render", render_spy)
    for _ in range(2):
        status, body = await _get_through_the_server_handler(handler, "/accounts/login/")
        assert status == 200 and b"<form" in body
    assert len(threads) == 2 and all(name.startswith("civmil-request-") for name in threads), threads
    assert view_threads == threads
    assert back_to_the_loop == []
