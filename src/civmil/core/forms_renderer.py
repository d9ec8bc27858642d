"""The form renderer: Django's templates, except for select boxes, which are written in Python.

Django renders each ``<option>`` through two template includes. A page with a few selects of
organisations and people (the release form on a record page, the filters of a list) spent more
time on its options than on everything else it shows. The output is the same, character for
character (``tests/core/test_forms_renderer.py`` compares the two); any select whose option
template was changed by its widget still goes through the templates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.forms.renderers import DjangoTemplates
from django.http import HttpRequest
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

SELECT_TEMPLATE = "django/forms/widgets/select.html"
OPTION_TEMPLATE = "django/forms/widgets/select_option.html"


class Renderer(DjangoTemplates):
    """``FORM_RENDERER``: select boxes in Python, everything else through the templates."""

    def render(self, template_name: str, context: dict[str, Any], request: HttpRequest | None = None) -> str:
        if template_name == SELECT_TEMPLATE:
            html = render_select(context["widget"])
            if html is not None:
                return html
        return str(super().render(template_name, context, request=request))


def _attrs(attrs: Mapping[str, Any]) -> str:
    """Django's ``attrs.html``: False leaves the attribute out, True writes its bare name."""
    parts = []
    for name, value in attrs.items():
        if value is False:
            continue
        if value is True:
            parts.append(f" {conditional_escape(name)}")
        else:
            parts.append(f' {conditional_escape(name)}="{conditional_escape(str(value))}"')
    return "".join(parts)


def render_select(widget: Mapping[str, Any]) -> SafeString | None:
    """The ``<select>`` of a widget context, or None when an option has a template of its own."""
    out = [f'<select name="{conditional_escape(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, options, _index in widget["optgroups"]:
        if group_name:
            out.append(f'\n  <optgroup label="{conditional_escape(group_name)}">')
        for option in options:
            if option["template_name"] != OPTION_TEMPLATE:
                return None
            out.append(f'\n  <option value="{conditional_escape(str(option["value"]))}"'
                       f'{_attrs(option["attrs"])}>{conditional_escape(option["label"])}</option>\n')
        if group_name:
            out.append("\n  </optgroup>")
    out.append("\n</select>")  # the templates' output is stripped (BaseRenderer.render)
    return mark_safe("".join(out))  # noqa: S308 - every value above is escaped
