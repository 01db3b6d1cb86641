"""Payment routes on the account pages (included from collections_work/account_urls.py)."""
from django.urls import path

from payments import views

urlpatterns = [
    path("debtor-accounts/<int:pk>/payments/direct/", views.direct_payment_report,
         name="debtor_account_payment_report"),
]
