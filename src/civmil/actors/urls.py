"""URLs of the actors app, mounted at /directory/ (namespace ``actors``)."""

from django.urls import URLPattern, path

from civmil.actors.views import areas, assignments, basemap, directory, directory_csv, liaison
from civmil.core.kernel.urls import patterns as kernel_patterns

app_name = "actors"
urlpatterns: list[URLPattern] = [
    path("", directory.index, name="index"),
    path("organisations/", directory.organisation_list, name="organisations"),
    path("organisations/<uuid:pk>/", directory.organisation_detail, name="organisation"),
    path("people/", directory.person_list, name="people"),
    path("people/<uuid:pk>/", directory.person_detail, name="person"),
    *kernel_patterns(liaison.views, "liaison/"),
    *kernel_patterns(assignments.views, "assignments/"),
    path("assignments/<uuid:pk>/confirm/", assignments.assignment_decide, {"decision": "confirm"},
         name="assignment-confirm"),
    path("assignments/<uuid:pk>/refuse/", assignments.assignment_decide, {"decision": "refuse"},
         name="assignment-refuse"),
    path("my-liaison/", assignments.my_liaison, name="my-liaison"),
    path("areas/", areas.area_list, name="areas"),
    path("areas/<uuid:pk>/", areas.area_detail, name="area"),
    path("areas.geojson", areas.areas_geojson, name="areas-geojson"),
    path("areas/basemap.pmtiles", basemap.basemap_file, name="basemap"),
    path("areas/lookup/", areas.area_lookup, name="area-lookup"),
    path("areas/import/", areas.areas_import, name="areas-import"),
    path("import/", directory_csv.directory_import, name="directory-import"),
    path("organisations/export.csv", directory_csv.organisations_export, name="organisations-export"),
    path("people/export.csv", directory_csv.people_export, name="people-export"),
]
