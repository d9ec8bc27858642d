from django.urls import path

from civmil.core.accounts.views import deactivation, erasure, tokens
from civmil.core.kernel.views import decorate, delete_saved_filter, save_filter
from civmil.core.views import approvals, general, pickers

app_name = "core"
urlpatterns = [
    path("acting-as/", general.switch_membership, name="switch-membership"),
    path("language/", general.set_language, name="set-language"),
    path("tokens/", tokens.token_list, name="tokens"),
    path("tokens/new/", tokens.token_new, name="token-new"),
    path("tokens/<uuid:pk>/revoke/", tokens.token_revoke, name="token-revoke"),
    path("accounts/<int:pk>/deactivate/", deactivation.deactivate, name="account-deactivate"),
    path("accounts/<int:pk>/reactivate/", deactivation.reactivate, name="account-reactivate"),
    path("approvals/", approvals.approval_list, name="approvals"),
    path("approvals/<str:kind>/<uuid:pk>/", approvals.approval_decide, name="approval-decide"),
    path("accounts/<int:pk>/email/", approvals.email_change, name="account-email"),
    path("accounts/<int:pk>/password-link/", approvals.password_link, name="account-password-link"),
    path("erasure/", erasure.erasure_list, name="erasure-list"),
    path("pick/<slug:key>/", pickers.picker_options, name="picker"),
    path("erasure/new/", erasure.erasure_new, name="erasure-new"),
    path("erasure/<uuid:pk>/decide/", erasure.erasure_decide, name="erasure-decide"),
    path("saved-filters/", decorate(save_filter, ("POST",)), name="saved-filter-save"),
    path("saved-filters/<uuid:pk>/delete/", decorate(delete_saved_filter, ("POST",)), name="saved-filter-delete"),
]
