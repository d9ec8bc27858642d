"""HTML views of the comms app (threads and notifications; search and attachments beside them)."""

from __future__ import annotations

from civmil.core.pages import FORM_ERROR_STATUS, actor_of, not_found, render_page

__all__ = ["FORM_ERROR_STATUS", "actor_of", "not_found", "render_page"]
