from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from portal import views

admin.site.site_header = "Collections portal administration"
admin.site.site_title = "Collections portal admin"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    # The split view serves Swagger UI's start-up script as its own request (?script): no inline
    # script, so the docs work under the Content-Security-Policy.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api_schema"), name="api_docs"),
    path("", include("accounts.urls")),
    path("", include("collections_work.urls")),
    path("", include("payments.urls")),
]

handler404 = "portal.errors_views.not_found"
handler403 = "portal.errors_views.forbidden"
handler500 = "portal.errors_views.server_error"
