"""URL of the search page, included by ``comms/urls.py`` under ``search/`` (name ``comms:search``)."""

from django.urls import URLPattern, path

from civmil.comms.views import search

urlpatterns: list[URLPattern] = [
    path("", search.search_page, name="search"),
]
