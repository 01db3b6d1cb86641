"""Payment routes (mounted by portal/urls.py): staff and client actions under the account pages,
and the debtor's pages under /d/ (no sign-in; the secure link is the way in)."""
from django.urls import path

from payments import api, views
from payments.batch import views as batch
from payments.debtor import views as debtor
from payments.offers import views as offers
from payments.online import views as online
from payments.plans import views as plans
from payments.posting import views as posting
from payments.statements import views as statements

urlpatterns = [
    path("debtor-accounts/<int:pk>/payments/direct/", views.direct_payment_report,
         name="debtor_account_payment_report"),
    path("debtor-accounts/<int:pk>/work/offer/", offers.offer_create, name="workspace_offer"),
    path("debtor-accounts/<int:pk>/work/invite/", plans.invitation_send, name="workspace_invitation"),
    path("debtor-accounts/<int:pk>/work/verify-agreement/", plans.agreement_verify, name="agreement_verify"),
    path("debtor-accounts/<int:pk>/payments/post/", posting.payment_post, name="payment_post"),
    path("payments/<int:pk>/reverse/", posting.payment_reverse, name="payment_reverse"),
    path("client/payments/", posting.client_payments, name="client_payments"),
    path("api/v1/payments/", api.PaymentsView.as_view(), name="api_payments"),
    path("agency/ledger/", posting.ledger_overview, name="ledger_overview"),
    path("agency/ledger/<int:pk>/", posting.client_ledger, name="client_ledger"),
    path("agency/payments/", posting.payments_journal, name="payments_journal"),
    # Payment files (bank lockbox, processor exports); their mapping, preview and commit pages are
    # placement intake's (/placements/<pk>/...), shown with payments' wording.
    path("agency/payments/files/", batch.payment_batch_list, name="payment_batch_list"),
    path("agency/payments/files/upload/", batch.payment_batch_upload, name="payment_batch_upload"),
    path("statements/", statements.statement_list, name="statement_list"),
    path("statements/<int:pk>/statement.<str:kind>", statements.statement_file, name="statement_file"),
    path("statements/<int:pk>/remitted/", statements.statement_remitted, name="statement_remitted"),
    path("statements/<int:pk>/correct/", statements.statement_correct, name="statement_correct"),
    path("offers/<int:pk>/send/", offers.offer_send, name="offer_send"),
    path("offers/<int:pk>/withdraw/", offers.offer_withdraw, name="offer_withdraw"),
    path("offers/<int:pk>/decide/", offers.offer_decide, name="offer_decide"),
    path("links/<int:pk>/revoke/", plans.link_revoke_view, name="link_revoke"),
    path("plans/<int:pk>/cancel/", plans.plan_cancel, name="plan_cancel"),
    path("agreements/<int:pk>/", plans.agreement_download, name="agreement_download"),
    path("client/offers/", offers.client_offers, name="client_offers"),
    path("client/offers/summary/", offers.client_offer_summary, name="client_offer_summary"),
    path("agency/clients/<int:pk>/plan-rules/", offers.plan_rules, name="plan_rules"),
    path("agency/settings/stripe/", online.stripe_settings, name="stripe_settings"),
    # Stripe's webhooks for one agency: no session, no CSRF; the signature is the credential.
    path("stripe/webhook/<slug:slug>/", online.stripe_webhook, name="stripe_webhook"),
    # The debtor's side: the token is the credential (payments.debtor.visits).
    path("d/<str:token>/", debtor.landing, name="debtor_landing"),
    path("d/<str:token>/account/", debtor.account, name="debtor_account"),
    path("d/<str:token>/offers/<int:offer_id>/", debtor.offer, name="debtor_offer"),
    path("d/<str:token>/plan/", debtor.plan_builder, name="debtor_plan"),
    path("d/<str:token>/dispute/", debtor.dispute, name="debtor_dispute"),
    path("d/<str:token>/callback/", debtor.callback, name="debtor_callback"),
    path("d/<str:token>/opt-out/", debtor.opt_out, name="debtor_opt_out"),
    path("d/<str:token>/agreements/<uuid:reference>.pdf", debtor.agreement, name="debtor_agreement"),
    path("d/<str:token>/sign-out/", debtor.sign_out, name="debtor_sign_out"),
    path("d/<str:token>/pay/", online.pay, name="debtor_pay"),
    path("d/<str:token>/pay/<str:payment_intent_id>/", online.pay_result, name="debtor_pay_result"),
    path("d/<str:token>/autopay/", online.autopay, name="debtor_autopay"),
]
