"""Routes for placements, debtor accounts, the worklist and the placement API."""
from django.urls import include, path

urlpatterns = [
    path("", include("collections_work.intake_urls")),
    path("", include("collections_work.account_urls")),
    path("", include("collections_work.work_urls")),
    path("api/v1/", include("collections_work.api_urls")),
]
