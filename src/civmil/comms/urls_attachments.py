"""URLs of attachments, included by ``comms/urls.py`` under ``attachments/`` (namespace ``comms``)."""

from django.urls import URLPattern, path

from civmil.comms.views import attachments

urlpatterns: list[URLPattern] = [
    path("<str:object_type>/<uuid:object_id>/upload/", attachments.upload, name="attachment-upload"),
    path("<uuid:pk>/download/", attachments.download, name="attachment-download"),
    path("<uuid:pk>/delete/", attachments.delete, name="attachment-delete"),
]
