from django.urls import path

from civmil.core import views

app_name = "core"
urlpatterns = [
    path("acting-as/", views.switch_membership, name="switch-membership"),
]
