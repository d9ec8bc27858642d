"""The home page's panels: what each app has to say to the person who signs in.

An app registers its panels when it is ready (:func:`register_panel`); the home page shows, in
``order``, every panel that has something for the acting reader. A panel reads through the access
policy like any page (it gets the actor and returns its template's context, or ``None`` to stay
out), and refreshes itself live: when an event arrives on one of its ``streams`` (record types),
or a notice on one of its ``notices`` (e.g. ``notifications``), the browser fetches it again from
``/home/panels/<key>/``.

"What waits for me" is one panel that gathers what every app says waits for the reader
(:func:`register_waiting`): unread mentions, approvals, assignments to confirm; later capabilities
add their overdue actions and unacknowledged notifications the same way, without touching the
home page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from civmil.core.acting import Actor


@dataclass(frozen=True)
class Panel:
    """One panel of the home page."""

    key: str
    title: Any
    template: str
    #: ``context(actor) -> dict`` for the template, or ``None`` when the panel has nothing for
    #: this reader (it is then left out).
    context: Callable[[Actor], dict[str, Any] | None]
    order: int = 100
    #: Record types whose live events refresh the panel (or a function giving them, read when the
    #: panel is shown, for panels that follow every type of some kind).
    streams: tuple[str, ...] | Callable[[], tuple[str, ...]] = ()
    #: Notice topics that refresh it (:mod:`civmil.core.events`' account notices), or a function giving them.
    notices: tuple[str, ...] | Callable[[], tuple[str, ...]] = ()


@dataclass(frozen=True)
class WaitingItem:
    """Something that waits for the reader: a line of text, where to act on it, and how many."""

    text: str
    url: str
    count: int = 1


_PANELS: dict[str, Panel] = {}
_WAITING: list[tuple[Callable[[Actor], list[WaitingItem]], tuple[str, ...], tuple[str, ...]]] = []


def register_panel(panel: Panel) -> None:
    _PANELS[panel.key] = panel


def register_waiting(provider: Callable[[Actor], list[WaitingItem]], *, streams: tuple[str, ...] = (),
                     notices: tuple[str, ...] = ()) -> None:
    """Add what ``provider(actor)`` says waits for the reader to the "What waits for you" panel;
    ``streams`` and ``notices`` refresh it."""
    _WAITING.append((provider, streams, notices))


def panels() -> list[Panel]:
    return sorted(_PANELS.values(), key=lambda p: (p.order, p.key))


def panel(key: str) -> Panel:
    """The panel registered under ``key`` (:class:`LookupError` otherwise)."""
    try:
        return _PANELS[key]
    except KeyError:
        raise LookupError(key) from None


def render_context(actor: Actor, p: Panel) -> dict[str, Any] | None:
    """What the panel shows this reader (``None``: nothing), with its own key, title and live wiring."""
    context = p.context(actor)
    if context is None:
        return None
    streams = p.streams() if callable(p.streams) else p.streams
    notices = p.notices() if callable(p.notices) else p.notices
    return {**context, "panel": p, "streams": streams, "notices": " ".join(notices)}


# ---------------------------------------------------------------------------------------------
# What waits for the reader

WAITING = "core.waiting"


def _waiting_streams() -> tuple[str, ...]:
    return tuple(dict.fromkeys(s for _p, streams, _n in _WAITING for s in streams))


def _waiting_notices() -> tuple[str, ...]:
    return tuple(dict.fromkeys(n for _p, _s, notices in _WAITING for n in notices))


def _waiting(actor: Actor) -> dict[str, Any] | None:
    items = [item for provider, _s, _n in _WAITING for item in provider(actor) if item.count]
    return {"items": items}


register_panel(Panel(key=WAITING, title=_("What waits for you"), template="core/home/waiting.html",
                     context=_waiting, order=10, streams=_waiting_streams, notices=_waiting_notices))
