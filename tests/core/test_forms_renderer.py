"""Select boxes written in Python are the same, character for character, as Django's templates."""

from __future__ import annotations

from typing import Any

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates

from civmil.core.forms_renderer import Renderer

CHOICES: list[Any] = [
    ("", "---------"),
    ("a", "Alpha & <Omega>"),
    ("Group \"one\"", [("b", "Bravo"), ("c", "Charlie")]),
    (3, "Three"),
    (None, "Nothing"),
]


class _Form(forms.Form):
    single = forms.ChoiceField(choices=CHOICES, required=False,
                               widget=forms.Select(attrs={"data-x": "1 < 2", "autofocus": True, "hidden": False}))
    many = forms.MultipleChoiceField(choices=CHOICES, required=False)
    inherit = forms.ChoiceField(choices=CHOICES, required=False,
                                widget=forms.RadioSelect)


class _OwnOption(forms.Select):
    option_template_name = "django/forms/widgets/input_option.html"


@pytest.mark.parametrize("data", [{}, {"single": "c", "many": ["a", "3"]}, {"single": "a", "many": ["", "b"]}])
@pytest.mark.parametrize("field", ["single", "many", "inherit"])
def test_selects_render_exactly_as_the_templates_do(field: str, data: dict[str, Any]) -> None:
    form = _Form(data=data or None)
    assert isinstance(form.renderer, Renderer)  # the project's renderer is the one in use
    fast = form[field].as_widget(attrs={"aria-describedby": "help-x"})
    form.renderer = DjangoTemplates()
    slow = form[field].as_widget(attrs={"aria-describedby": "help-x"})
    assert fast == slow
    assert "Alpha &amp; &lt;Omega&gt;" in fast


def test_a_widget_with_its_own_option_template_goes_through_the_templates() -> None:
    widget = _OwnOption(choices=[("x", "Ex")])
    fast = widget.render("f", "x", renderer=Renderer())
    slow = widget.render("f", "x", renderer=DjangoTemplates())
    assert fast == slow
    assert 'type="' in fast  # the input_option template was used, not the <option> written in Python
