from django.urls import path

from civmil.core import views, views_accounts, views_approvals, views_erasure, views_tokens

app_name = "core"
urlpatterns = [
    path("acting-as/", views.switch_membership, name="switch-membership"),
    path("language/", views.set_language, name="set-language"),
    path("tokens/", views_tokens.token_list, name="tokens"),
    path("tokens/new/", views_tokens.token_new, name="token-new"),
    path("tokens/<uuid:pk>/revoke/", views_tokens.token_revoke, name="token-revoke"),
    path("accounts/<int:pk>/deactivate/", views_accounts.deactivate, name="account-deactivate"),
    path("accounts/<int:pk>/reactivate/", views_accounts.reactivate, name="account-reactivate"),
    path("approvals/", views_approvals.approval_list, name="approvals"),
    path("approvals/<str:kind>/<uuid:pk>/", views_approvals.approval_decide, name="approval-decide"),
    path("accounts/<int:pk>/email/", views_approvals.email_change, name="account-email"),
    path("accounts/<int:pk>/password-link/", views_approvals.password_link, name="account-password-link"),
    path("erasure/", views_erasure.erasure_list, name="erasure-list"),
    path("erasure/new/", views_erasure.erasure_new, name="erasure-new"),
    path("erasure/<uuid:pk>/decide/", views_erasure.erasure_decide, name="erasure-decide"),
]
