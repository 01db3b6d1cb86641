"""Debtor account pages: list, exports, the account page, its actions and document downloads.

Under /debtor-accounts/ because allauth owns /accounts/. Other apps' actions on these pages
(payments) have their own URLs, mounted by portal/urls.py."""
from django.urls import path

from collections_work.debtor_accounts import views

urlpatterns = [
    path("debtor-accounts/", views.account_list, name="debtor_account_list"),
    path("debtor-accounts/export/", views.account_export, name="debtor_account_export"),
    path("debtor-accounts/<int:pk>/", views.account_detail, name="debtor_account_detail"),
    path("debtor-accounts/<int:pk>/status/", views.account_set_status, name="debtor_account_set_status"),
    path("debtor-accounts/<int:pk>/notes/", views.account_note, name="debtor_account_note"),
    path("debtor-accounts/<int:pk>/messages/", views.account_message, name="debtor_account_message"),
    path("debtor-accounts/<int:pk>/documents/", views.account_document_add, name="debtor_account_document_add"),
    path("debtor-accounts/documents/<int:pk>/", views.document_download, name="debtor_account_document_download"),
]
