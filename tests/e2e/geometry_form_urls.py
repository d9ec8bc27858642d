"""The site, plus a page with a geometry field (tests/e2e/test_geometry_drawing.py)."""

from __future__ import annotations

import json

from django import forms
from django.http import HttpRequest, HttpResponse
from django.template import RequestContext, Template
from django.urls import path

from civmil.config.urls import urlpatterns as site
from civmil.core.forms_geometry import GeometryField

PAGE = Template(
    '{% extends "base.html" %}{% block content %}{% if saved %}<pre id="saved">{{ saved }}</pre>{% else %}'
    '<form method="post" novalidate>{% csrf_token %}{% include "includes/field.html" with field=form.place %}'
    '<button type="submit">Save</button></form>{% endif %}{% endblock %}'
)


class PlaceForm(forms.Form):
    place = GeometryField(label="Place")


def place_page(request: HttpRequest) -> HttpResponse:
    form = PlaceForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        saved = json.dumps(form.cleaned_data["place"])
        return HttpResponse(PAGE.render(RequestContext(request, {"saved": saved})))
    return HttpResponse(PAGE.render(RequestContext(request, {"form": form})))


urlpatterns = [path("test-geometry/", place_page), *site]
