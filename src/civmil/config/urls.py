from django.contrib import admin
from django.urls import include, path

from civmil.config.api import api
from civmil.core import health
from civmil.core.kernel.urls import mounted as kernel_mounted
from civmil.core.views import general

urlpatterns = [
    path("", general.home, name="home"),
    path("home/panels/<str:key>/", general.home_panel, name="home-panel"),
    # Browsers ask for /favicon.ico on pages that name no icon (the API's JSON, files): the same icon.
    path("favicon.ico", general.favicon, name="favicon"),
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    # Before allauth's own page: addresses change only by administrators, with a second one's approval.
    path("accounts/email/", general.email_addresses, name="account_email"),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("core/", include("civmil.core.urls")),
    path("directory/", include("civmil.actors.urls")),
    path("comms/", include("civmil.comms.urls")),
    # Record types with no pages of an app's own: the kernel's pages, from their declaration.
    path("records/", include(kernel_mounted())),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
]

handler400 = "civmil.core.views.general.bad_request"
handler403 = "civmil.core.views.general.forbidden"
handler404 = "civmil.core.views.general.not_found"
handler500 = "civmil.core.views.general.server_error"

