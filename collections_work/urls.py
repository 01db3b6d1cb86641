"""Routes for placements, debtor accounts, the worklist and the placement API."""
from django.urls import include, path

urlpatterns = [
    path("", include("collections_work.placements.urls")),
    path("", include("collections_work.debtor_accounts.urls")),
    path("", include("collections_work.worklist.urls")),
    path("", include("collections_work.letters.urls")),
    path("", include("collections_work.outbox.urls")),
    path("api/v1/", include("collections_work.api.urls")),
]
