"""``{% thread_panel record %}``: the discussion panel of a record, for the reader of the page."""

from __future__ import annotations

from typing import Any

from django import template

from civmil.comms.views.threads import panel_context

register = template.Library()


@register.inclusion_tag("comms/threads/_panel.html", takes_context=True)
def thread_panel(context: template.Context, record: Any) -> dict[str, Any]:
    request = context.get("request")
    actor = getattr(request, "actor", None)
    if request is None or actor is None or record is None:
        return {"thread_enabled": False}
    return {"request": request, "csrf_token": context.get("csrf_token"),
            **panel_context(actor, record, next_url=request.get_full_path())}
