"""URLs of the comms app, mounted at /comms/ (namespace ``comms``)."""

from django.urls import URLPattern, path

from civmil.comms.views import notifications, threads

app_name = "comms"
urlpatterns: list[URLPattern] = [
    path("threads/<str:record_type>/<uuid:pk>/", threads.thread, name="thread"),
    path("notifications/", notifications.notification_list, name="notifications"),
    path("notifications/read-all/", notifications.notifications_read_all, name="notifications-read-all"),
    path("notifications/unread/", notifications.unread_badge, name="notifications-unread"),
    path("notifications/preferences/", notifications.notification_preferences, name="notification-preferences"),
    path("notifications/<uuid:pk>/read/", notifications.notification_read, name="notification-read"),
    path("notifications/<uuid:pk>/open/", notifications.notification_open, name="notification-open"),
    # --- search and attachments: add their paths below this line ---------------------------
]
