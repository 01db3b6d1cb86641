"""The client placement API (mounted at /api/v1/ by collections_work/urls.py)."""
from django.urls import path

from collections_work.api import views as api

urlpatterns = [
    path("accounts/", api.AccountsRoute.as_view(), name="api_accounts"),
    # before the detail route: "bulk/" is not a client reference
    path("accounts/bulk/", api.AccountBulkPlaceView.as_view(), name="api_accounts_bulk"),
    # path: a client's reference may contain slashes ("INV/2024/001")
    path("accounts/<path:client_reference>/", api.AccountDetailView.as_view(), name="api_account_detail"),
]
