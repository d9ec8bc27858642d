"""URLs of attachments. Include under ``comms/attachments/`` (namespace ``comms_attachments``)."""

from django.urls import URLPattern, path

from civmil.comms.views import attachments

app_name = "comms_attachments"
urlpatterns: list[URLPattern] = [
    path("<str:object_type>/<uuid:object_id>/upload/", attachments.upload, name="upload"),
    path("<uuid:pk>/download/", attachments.download, name="download"),
    path("<uuid:pk>/delete/", attachments.delete, name="delete"),
]
