"""URLs of the comms app, mounted at /comms/ (namespace ``comms``)."""

from django.urls import URLPattern, URLResolver, include, path

from civmil.comms.views import notifications, threads

app_name = "comms"
urlpatterns: list[URLPattern | URLResolver] = [
    path("threads/<str:record_type>/<uuid:pk>/", threads.thread, name="thread"),
    path("notifications/", notifications.notification_list, name="notifications"),
    path("notifications/read-all/", notifications.notifications_read_all, name="notifications-read-all"),
    path("notifications/unread/", notifications.unread_badge, name="notifications-unread"),
    path("notifications/preferences/", notifications.notification_preferences, name="notification-preferences"),
    path("notifications/<uuid:pk>/read/", notifications.notification_read, name="notification-read"),
    path("notifications/<uuid:pk>/open/", notifications.notification_open, name="notification-open"),
    path("search/", include("civmil.comms.urls_search")),
    path("attachments/", include("civmil.comms.urls_attachments")),
]
