"""The admin site: only administrators acting as such get in, and only policy admins are registered.

Every protected record type declared for the record kernel (``fields``) has an admin without
code of its own: the site adds :func:`civmil.core.admin.protected.declared_admin` for each one
whose app registers none.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from civmil.core import registry
from civmil.core.admin.base import PolicyAdmin, is_admin_request


class CivmilAdminSite(admin.AdminSite):
    site_header = gettext_lazy("civmil administration")
    site_title = gettext_lazy("civmil administration")
    index_title = gettext_lazy("Accounts, reference data and the ledger")

    @property
    def _registry(self) -> dict[Any, Any]:
        """Django's table of model admins, with an admin for every declared record type whose app
        registered none (added once the apps are ready, when every type and admin is known)."""
        models: dict[Any, Any] = self.__dict__["_registry"]
        if apps.ready:
            self._admit_declared(models)
        return models

    @_registry.setter
    def _registry(self, value: dict[Any, Any]) -> None:
        self.__dict__["_registry"] = value

    def _admit_declared(self, models: dict[Any, Any]) -> None:
        from civmil.core.admin.protected import declared_admin

        for record_type in registry.all_types():
            if record_type.fields and record_type.model not in models:
                models[record_type.model] = declared_admin(record_type)(record_type.model, self)

    def has_permission(self, request: HttpRequest) -> bool:
        return is_admin_request(request)

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """Signing in is the application's; a signed-in non-administrator is told why they may not enter."""
        target = request.GET.get("next") or reverse("admin:index", current_app=self.name)
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            target = reverse("admin:index", current_app=self.name)
        if not request.user.is_authenticated:
            return redirect_to_login(target, reverse("account_login"))
        if self.has_permission(request):
            return HttpResponseRedirect(target)
        return render(request, "error.html", {
            "title": _("Not allowed"),
            "message": _("The admin site is for administrators. The membership you act as is not an administrator's; "
                         "if you have an administrator membership, switch to it first. Account flags such as "
                         "'superuser' open nothing here."),
        }, status=403)

    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        if admin_class is None or not issubclass(admin_class, PolicyAdmin):
            raise ImproperlyConfigured(
                "civmil's admin site takes only civmil.core.admin.PolicyAdmin subclasses, which ask the access policy")
        super().register(model_or_iterable, admin_class, **options)


def _install(site: Any) -> None:
    """Put civmil's door on Django's default site (created by django.contrib.admin before our code runs)
    and drop the admins other apps registered on it, which answer to Django's flags, not the policy."""
    site.__class__ = CivmilAdminSite
    for model in [m for m in site._registry if not m.__module__.startswith("civmil.")]:
        site.unregister(model)


_install(admin.site)
