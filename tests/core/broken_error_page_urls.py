"""A site whose error page fails too (as when the static manifest is missing): tests/core/test_logs.py."""

from django.http import HttpRequest, HttpResponse
from django.urls import path


def _failing_view(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("the view broke")


def _failing_error_page(request: HttpRequest) -> HttpResponse:
    raise ValueError("Missing staticfiles manifest entry for 'civmil/img/favicon.svg'")


urlpatterns = [path("broken", _failing_view, name="broken")]
handler500 = "tests.core.broken_error_page_urls._failing_error_page"
