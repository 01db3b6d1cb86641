"""The client placement API (mounted at /api/v1/ by collections_work/urls.py)."""
from django.urls import path

from collections_work.api import placement_files as files
from collections_work.api import views as api

urlpatterns = [
    path("accounts/", api.AccountsRoute.as_view(), name="api_accounts"),
    # before the detail route: "bulk/" is not a client reference
    path("accounts/bulk/", api.AccountBulkPlaceView.as_view(), name="api_accounts_bulk"),
    # path: a client's reference may contain slashes ("INV/2024/001")
    path("accounts/<path:client_reference>/", api.AccountDetailView.as_view(), name="api_account_detail"),
    # Files as placement batches (issue 13, item 24)
    path("placements/", files.PlacementFileUploadView.as_view(), name="api_placements"),
    path("placements/<int:batch_id>/", files.PlacementFileDetailView.as_view(), name="api_placement_detail"),
    path("placements/<int:batch_id>/check/", files.PlacementFileCheckView.as_view(), name="api_placement_check"),
    path("placements/<int:batch_id>/sheet/", files.PlacementFileSheetView.as_view(), name="api_placement_sheet"),
    path("placements/<int:batch_id>/commit/", files.PlacementFileCommitView.as_view(), name="api_placement_commit"),
    path("placements/<int:batch_id>/cancel/", files.PlacementFileCancelView.as_view(), name="api_placement_cancel"),
    path("placements/<int:batch_id>/rejected-rows/", files.PlacementFileRejectedRowsView.as_view(),
         name="api_placement_rejected_rows"),
    path("placements/<int:batch_id>/rejected-rows.csv", files.PlacementFileRejectedCsvView.as_view(),
         name="api_placement_rejected_rows_csv"),
]
