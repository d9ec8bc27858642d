"""URLs of the comms app, mounted at /comms/ (namespace ``comms``): threads, notifications,
search and attachments."""

from django.urls import URLPattern, path

from civmil.comms.views import attachments, notifications, search, threads

app_name = "comms"
urlpatterns: list[URLPattern] = [
    path("threads/<str:record_type>/<uuid:pk>/", threads.thread, name="thread"),
    path("notifications/", notifications.notification_list, name="notifications"),
    path("notifications/read-all/", notifications.notifications_read_all, name="notifications-read-all"),
    path("notifications/unread/", notifications.unread_badge, name="notifications-unread"),
    path("notifications/preferences/", notifications.notification_preferences, name="notification-preferences"),
    path("notifications/<uuid:pk>/read/", notifications.notification_read, name="notification-read"),
    path("notifications/<uuid:pk>/open/", notifications.notification_open, name="notification-open"),
    path("search/", search.search_page, name="search"),
    path("attachments/<str:object_type>/<uuid:object_id>/upload/", attachments.upload, name="attachment-upload"),
    path("attachments/<uuid:pk>/download/", attachments.download, name="attachment-download"),
    path("attachments/<uuid:pk>/delete/", attachments.delete, name="attachment-delete"),
]
