"""URL of the search page. Include under ``comms/search/`` (namespace ``comms_search``)."""

from django.urls import URLPattern, path

from civmil.comms.views import search

app_name = "comms_search"
urlpatterns: list[URLPattern] = [
    path("", search.search_page, name="search"),
]
