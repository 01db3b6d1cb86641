"""Payment routes on the account pages (mounted by portal/urls.py)."""
from django.urls import path

from payments import views

urlpatterns = [
    path("debtor-accounts/<int:pk>/payments/direct/", views.direct_payment_report,
         name="debtor_account_payment_report"),
    path("debtor-accounts/<int:pk>/work/offer/", views.plan_offer_start, name="workspace_offer"),
]
