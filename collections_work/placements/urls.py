from django.urls import path

from collections_work.placements import views

urlpatterns = [
    path("placements/", views.placement_list, name="placement_list"),
    path("placements/summary/", views.placement_summary, name="placement_summary"),
    path("placements/upload/", views.placement_upload, name="placement_upload"),
    path("placements/new-account/", views.debtor_account_new, name="debtor_account_new"),
    path("placements/<int:pk>/", views.placement_detail, name="placement_detail"),
    path("placements/<int:pk>/mapping/", views.placement_mapping, name="placement_mapping"),
    path("placements/<int:pk>/progress/", views.placement_progress, name="placement_progress"),
    path("placements/<int:pk>/place/", views.placement_commit, name="placement_commit"),
    path("placements/<int:pk>/cancel/", views.placement_cancel, name="placement_cancel"),
    path("placements/<int:pk>/rejected-rows.csv", views.placement_rejected_rows, name="placement_rejected_rows"),
    path("agency/intake/", views.intake_summary, name="intake_summary"),
]
