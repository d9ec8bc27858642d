"""The discussion of one record: the full page and the panel a record's page includes."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from civmil.comms.models.threads import MESSAGE_MAX_LENGTH
from civmil.comms.queries import threads as queries
from civmil.comms.queries.notifications import record_url
from civmil.comms.services import threads as services
from civmil.comms.views import FORM_ERROR_STATUS, actor_of, not_found, render_page
from civmil.core import registry
from civmil.core.acting import Actor
from civmil.core.errors import NotFound, ServiceError
from civmil.core.pickers import PickerSelectMultiple


class MessageForm(forms.Form):
    body = forms.CharField(
        label=gettext_lazy("Message"), max_length=MESSAGE_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("Markdown: **bold**, *emphasis*, `code`, [link](https://...), lists with \"- \". "
                               "Everyone who can read the whole record can read the discussion."),
    )
    mentions = forms.MultipleChoiceField(
        # Searchable among the candidates written into the page (a short list the policy made).
        label=gettext_lazy("Mention"), required=False, widget=PickerSelectMultiple(),
        help_text=gettext_lazy("People you choose are notified. Only people who may read this record are listed."),
    )

    def __init__(self, candidates: list[tuple[str, str]], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["mentions"].choices = candidates  # type: ignore[attr-defined]


def thread_url(record: Any) -> str:
    return reverse("comms:thread", kwargs={"record_type": queries.record_type_key(record), "pk": record.pk})


def panel_context(actor: Actor, record: Any, form: MessageForm | None = None, *, next_url: str = "") -> dict[str, Any]:
    """What ``comms/threads/panel.html`` shows for ``record`` to ``actor`` (nothing without the FULL view)."""
    try:
        registry.get(type(record))
    except LookupError:
        return {"thread_enabled": False}
    if not actor.is_authenticated:  # a PUBLIC record's page: its discussion is for signed-in readers
        return {"thread_enabled": False}
    if not queries.threads_open_on(actor, record):
        return {"thread_enabled": False, "thread_closed": registry.get(type(record)).threads}
    try:
        action = thread_url(record)
    except NoReverseMatch:  # the comms URLs are not mounted in this deployment: no panel
        return {"thread_enabled": False}
    candidates = queries.mention_candidates(actor, record)
    return {
        "thread_enabled": True,
        "thread_messages": queries.thread_messages(actor, record),
        "thread_form": form or MessageForm(candidates),
        "thread_action": action,
        "thread_next": next_url,
        "thread_may_post": actor.membership is not None and actor.person is not None,
    }


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return ""


@login_required
@require_http_methods(["GET", "POST"])
def thread(request: HttpRequest, record_type: str, pk: Any) -> HttpResponse:
    """The discussion of one record. GET shows it; POST posts a message and returns to ``next``."""
    actor = actor_of(request)
    try:
        record = queries.discussed_record(actor, record_type, pk)
    except NotFound:
        not_found()
    form: MessageForm | None = None
    status = 200
    next_url = _safe_next(request) if request.method == "POST" else ""
    if request.method == "POST":
        form = MessageForm(queries.mention_candidates(actor, record), request.POST)
        if form.is_valid():
            try:
                services.post_message(actor, record_type, record.pk, form.cleaned_data["body"],
                                      form.cleaned_data["mentions"])
            except ServiceError as exc:
                if isinstance(exc, NotFound):
                    not_found()
                for field, errors in exc.errors.items():
                    for error in errors:
                        form.add_error(field if field in form.fields else None, error)
                if not exc.errors:
                    form.add_error(None, exc.message)
            else:
                messages.success(request, _("Your message is posted."))
                return HttpResponseRedirect((next_url or thread_url(record)) + "#thread")
        status = FORM_ERROR_STATUS
    url = record_url(record)
    return render_page(request, "comms/threads/thread.html", {
        "record": record, "record_label": registry.get(type(record)).label, "record_url": url,
        **panel_context(actor, record, form, next_url=next_url),
    }, status=status)
