"""Online card payment pages.

    /agency/settings/stripe/              agency admins connect or replace the agency's Stripe keys
    /d/<token>/pay/                       the debtor pays: an installment, the balance or another amount
    /d/<token>/pay/<PaymentIntent id>/    the result: a receipt, or why the payment did not go through
    /d/<token>/autopay/                   the card saved for the plan's automatic payments; stop them
    /stripe/webhook/<agency slug>/        Stripe's webhooks (no session, no CSRF: the signature is the credential)

The payment page is the one page that loads stripe.js (settings.STRIPE_JS_URL, allowed by
`allow_stripe` on that view alone), with static/js/pay.js, which talks to the same view in JSON:
"setup" makes the SetupIntent the card element confirms, "charge" charges it. No inline script: the page's data is in data- attributes.
"""
import re

from django.conf import settings
from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.access import agency_admin_required
from payments.debtor.visits import debtor_page
from payments.models import AutopayCard, Payment
from payments.online import services
from payments.online.forms import PayForm, StripeKeysForm
from payments.online.webhooks import RetryLater, WebhookRefused, stripe_webhook_receive
from portal.errors import DomainError
from portal.forms import add_domain_error
from portal.security import allow_stripe

PAYMENT_INTENT_ID = re.compile(r"^pi_[A-Za-z0-9_]{1,120}$")


# --- Agency admins -------------------------------------------------------------------------------

@agency_admin_required
def stripe_settings(request):
    """Connect the agency's Stripe account or replace its keys; the secrets are never shown back."""
    account = services.stripe_account_of(request.agency)
    form = StripeKeysForm(request.POST or None, connected=account is not None,
                          initial={"publishable_key": account.publishable_key} if account else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.stripe_account_connect(agency=request.agency, actor=request.user, **form.cleaned_data)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, "Stripe keys saved." if account is None else "Stripe keys replaced.")
            return redirect("stripe_settings")
    webhook_url = settings.SITE_URL + reverse("stripe_webhook", args=[request.agency.slug])
    return render(request, "payments/stripe_settings.html", {"form": form, "stripe_account": account,
                                                             "webhook_url": webhook_url},
                  status=400 if form.errors else 200)


# --- The debtor ----------------------------------------------------------------------------------

def _token(request) -> str:
    return request.resolver_match.kwargs["token"]


def _page(request, link, **extra) -> dict:
    account = link.account
    return {"link": link, "link_token": _token(request), "account": account, "agency": link.agency,
            "client": account.client, "consumer": account.debt_purpose != "commercial", **extra}


def _json_error(error: DomainError, status=400):
    return JsonResponse({"error": error.message, "field": error.field}, status=status)


@allow_stripe
@debtor_page()
def pay(request, link):
    """GET: the choice of amount and the card form. POST (pay.js, JSON answers): action "setup"
    checks the amount and makes the SetupIntent; action "charge" charges the confirmed card."""
    account = link.account
    stripe_account = services.stripe_account_of(link.agency)
    options = services.pay_options(account)
    if request.method == "POST":
        return _pay_post(request, link, options)
    initial = {"choice": "installment" if options.next_installment else "balance"}
    form = PayForm(initial=initial, options=options)
    saved = AutopayCard.objects.filter(plan=options.plan, stopped_at__isnull=True).first() if options.plan else None
    return render(request, "debtor/pay.html", _page(
        request, link, form=form, options=options, stripe_account=stripe_account, saved_card=saved,
        stripe_js_url=settings.STRIPE_JS_URL))


def _pay_post(request, link, options):
    form = PayForm(request.POST, options=options)
    if not form.is_valid():
        field, errors = next(iter(form.errors.items()))
        return JsonResponse({"error": errors[0], "field": field}, status=400)
    data = form.cleaned_data
    action = request.POST.get("action")
    try:
        if action == "setup":
            services.pay_amount(link.account, choice=data["choice"], other_amount=data["other_amount"])
            return JsonResponse(services.card_setup_start(link=link, save_card=data["save_card"]))
        if action == "charge":
            result = services.online_payment_charge(
                link=link, setup_intent_id=request.POST.get("setup_intent", "")[:100], choice=data["choice"],
                other_amount=data["other_amount"], save_card=data["save_card"])
            return JsonResponse({"status": result.status, "client_secret": result.client_secret,
                                 "result_url": reverse("debtor_pay_result", args=[_token(request),
                                                                                  result.payment_intent_id])})
    except services.StripeUnavailable as error:
        return _json_error(error, status=503)
    except DomainError as error:
        return _json_error(error, status=402 if error.code == "card_declined" else 400)
    return JsonResponse({"error": "Unknown action."}, status=400)


@debtor_page()
def pay_result(request, link, payment_intent_id):
    """Where the page goes after the card step: the receipt, or why the payment did not go through
    (the card issuer's message). Posts a succeeded payment if the webhook has not yet."""
    if not PAYMENT_INTENT_ID.match(payment_intent_id):
        raise Http404
    try:
        intent, payment = services.online_payment_settle(link=link, payment_intent_id=payment_intent_id)
    except services.StripeUnavailable as error:
        return render(request, "debtor/pay_result.html", _page(request, link, problem=error.message), status=503)
    except DomainError as error:
        if error.code == "not_found":
            raise Http404 from None
        return render(request, "debtor/pay_result.html", _page(request, link, problem=error.message), status=400)
    if payment is None:
        status = intent.get("status")
        if status == "processing":
            return render(request, "debtor/pay_result.html", _page(request, link, processing=True))
        problem = ((intent.get("last_payment_error") or {}).get("message")
                   or "The payment was not completed. Nothing was charged.")
        return render(request, "debtor/pay_result.html", _page(request, link, problem=problem), status=402)
    payment = Payment.objects.get(pk=payment.pk)
    return render(request, "debtor/pay_result.html", _page(request, link, **services.receipt_of(payment),
                                                           saved_card=_saved_card(payment)))


def _saved_card(payment):
    plan = services.pay_options(payment.account).plan
    return AutopayCard.objects.filter(plan=plan, stopped_at__isnull=True).first() if plan else None


@debtor_page()
def autopay(request, link):
    """The plan's automatic payments: which card pays them, and a button to stop them. (A card
    is saved by ticking the box on the payment page, the one page that loads stripe.js.)"""
    options = services.pay_options(link.account)
    saved = AutopayCard.objects.filter(plan=options.plan, stopped_at__isnull=True).first() if options.plan else None
    if request.method == "POST":
        if request.POST.get("action") == "stop":
            services.autopay_stop(link=link)
            messages.success(request, "Automatic payments are off. You can pay each installment from your account page.")
        return redirect("debtor_autopay", token=_token(request))
    return render(request, "debtor/autopay.html", _page(request, link, options=options, saved_card=saved))


# --- Stripe ----------------------------------------------------------------------------------------

@csrf_exempt
@require_POST
def stripe_webhook(request, slug):
    """Stripe's events for one agency. 400 on a bad signature (nothing is done), 503 when Stripe
    must send the event again, 200 otherwise (a replayed event included: it does nothing)."""
    try:
        handled = stripe_webhook_receive(agency_slug=slug, payload=request.body,
                                         signature=request.headers.get("Stripe-Signature", ""))
    except WebhookRefused as refused:
        return JsonResponse({"error": refused.message}, status=refused.status)
    except RetryLater as later:
        return JsonResponse({"error": str(later)}, status=503)
    return JsonResponse({"received": handled.event_id, "type": handled.type, "outcome": handled.outcome,
                         "duplicate": handled.duplicate})
