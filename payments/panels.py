"""What payments shows on the account page and the workspace (debtor_accounts.panels; registered
in payments.apps). Each function returns the panel's context, or None to leave the panel out for
this viewer and account."""
from decimal import Decimal

from django.utils import timezone

from accounts import permissions
from collections_work.debtor_accounts import actions, panels
from collections_work.models import Dispute
from payments.forms import (
    AgreementVerifyForm,
    DecisionForm,
    DirectPaymentForm,
    OfferSendForm,
    PaymentPostForm,
    PlanCancelForm,
    PlanOfferForm,
    ReversalForm,
)
from payments.models import AcceptanceEvidence, PaymentPlan, PlanOffer, SecureLink
from payments.offers.services import describe


def _disputed(account) -> bool:
    return Dispute.objects.filter(account=account, resolved_at__isnull=True).exists()


def _on_plan(account) -> bool:
    """A current plan: nothing else can be accepted until staff cancel it or it ends."""
    return PaymentPlan.objects.filter(account=account, status=PaymentPlan.Status.CURRENT).exists()


def _offers(account, limit=10):
    offers = list(account.offers.select_related("created_by", "decided_by")[:limit])
    for offer in offers:
        offer.summary = describe(offer)
    return offers


def _plans(account):
    plans = list(PaymentPlan.objects.filter(account=account).prefetch_related("installments")[:3])
    evidence = {e.plan_id: e for e in AcceptanceEvidence.objects.filter(plan__in=plans)}
    for plan in plans:
        plan.agreement = evidence.get(plan.pk)
    return plans


# --- The account page (clients and staff) ----------------------------------------------------------

def direct_payment_action(request, account, bound):
    """Client admins report a payment made to them while there is a balance to pay."""
    takes_payment = account.balance > 0 and account.status not in actions.NO_PAYMENTS_STATUSES
    if bound is None and not (permissions.can_report_direct_payment(request.user, account) and takes_payment):
        return None
    return {"form": bound or DirectPaymentForm(agency=account.agency)}


def payments_table(request, account, bound):
    """Payments with how they were received, the agency's commission, and any reversal."""
    return {"payments": list(account.payments.select_related("reported_by").prefetch_related("reversals"))}


def account_offers_and_plans(request, account, bound):
    """The plan in place and the offers; the client's admin answers offers beyond its terms."""
    offers, plans = _offers(account), _plans(account)
    if not offers and not plans:
        return None
    may_decide = permissions.can_recall_or_hold(request.user, account)
    for offer in offers:
        if may_decide and offer.status == PlanOffer.Status.AWAITING_CLIENT:
            offer.decision_form = bound if bound is not None and bound.offer.pk == offer.pk else DecisionForm(
                auto_id=f"decide{offer.pk}_%s")
    return {"offers": offers, "plans": plans}


# --- The workspace (agency staff) -------------------------------------------------------------------

def offer_action(request, account, bound):
    """Build an offer (with a preview of its schedule), except while the debtor's dispute is open
    or a plan is current (the debtor could not accept it)."""
    if bound is None and (_disputed(account) or account.status in actions.NO_PAYMENTS_STATUSES
                          or _on_plan(account)):
        return None
    return {"form": bound or PlanOfferForm(initial={"total_amount": account.balance,
                                                    "first_due_date": timezone.localdate()})}


def invite_action(request, account, bound):
    if _disputed(account) or account.status in actions.NO_PAYMENTS_STATUSES or _on_plan(account):
        return None
    return {"form": OfferSendForm(auto_id="invite_%s")}


def verify_action(request, account, bound):
    if bound is None and not AcceptanceEvidence.objects.filter(account=account).exists():
        return None
    return {"form": bound or AgreementVerifyForm(auto_id="verify_%s")}


def workspace_money(request, account, bound):
    now = timezone.now()
    links = list(SecureLink.objects.filter(account=account).select_related("offer")[:10])
    for link in links:
        link.current_state = link.state(now)
    plans = _plans(account)
    for plan in plans:
        plan.cancel_form = bound if bound is not None else PlanCancelForm(auto_id=f"cancel{plan.pk}_%s")
    return {"offers": _offers(account), "links": links, "plans": plans, "send_form": OfferSendForm(),
            "plan_current": any(plan.status == PaymentPlan.Status.CURRENT for plan in plans)}


def post_action(request, account, bound):
    """Staff post a payment while the account takes one."""
    if bound is None and (account.status in actions.NO_PAYMENTS_STATUSES or account.balance <= 0):
        return None
    return {"form": bound or PaymentPostForm(agency=account.agency)}


def workspace_payments(request, account, bound):
    """Every payment with its split, the commission kept after reversals, and its reversals;
    each can be reversed."""
    payments = list(account.payments.select_related("reported_by").prefetch_related("reversals")[:50])
    for payment in payments:
        payment.commission_kept = payment.commission - sum((r.commission for r in payment.reversals.all()), Decimal(0))
        if payment.net_amount > 0:
            payment.reverse_form = (bound if bound is not None and bound.payment.pk == payment.pk
                                    else ReversalForm(auto_id=f"reverse{payment.pk}_%s", payment=payment))
    return {"payments": payments}


def worklist_answers(request, _account, bound):
    """On the collector's worklist: clients' answers to their offers (last 14 days) and plans
    debtors asked for outside the self-service rules, each a link to the workspace."""
    since = timezone.now() - timezone.timedelta(days=14)
    answered = list(PlanOffer.objects.filter(created_by=request.user, decided_at__gte=since,
                                             status__in=(PlanOffer.Status.APPROVED, PlanOffer.Status.DECLINED))
                    .select_related("account").order_by("-decided_at")[:10])
    requested = list(PlanOffer.objects.filter(status=PlanOffer.Status.REQUESTED).select_related("account")
                     .order_by("-created_at")[:10])
    if not answered and not requested:
        return None
    for offer in answered + requested:
        offer.summary = describe(offer)
    return {"answered": answered, "requested": requested}


PANELS = [
    panels.Panel(page=panels.ACCOUNT_PAGE, slot=panels.ACTIONS, name="payment", order=20,
                 template="payments/_direct_payment_action.html", context=direct_payment_action),
    panels.Panel(page=panels.ACCOUNT_PAGE, slot=panels.MAIN, name="offers", order=5,
                 template="payments/_account_offers_and_plans.html", context=account_offers_and_plans),
    panels.Panel(page=panels.ACCOUNT_PAGE, slot=panels.MAIN, name="payments", order=10,
                 template="payments/_payments_table.html", context=payments_table),
    panels.Panel(page=panels.WORKSPACE, slot=panels.ACTIONS, name="offer", order=60,
                 template="payments/_offer_action.html", context=offer_action),
    panels.Panel(page=panels.WORKSPACE, slot=panels.ACTIONS, name="invite", order=61,
                 template="payments/_invite_action.html", context=invite_action),
    panels.Panel(page=panels.WORKSPACE, slot=panels.ACTIONS, name="verify", order=62,
                 template="payments/_verify_action.html", context=verify_action),
    panels.Panel(page=panels.WORKSPACE, slot=panels.MAIN, name="plan", order=10,
                 template="payments/_workspace_money.html", context=workspace_money),
    panels.Panel(page=panels.WORKSPACE, slot=panels.ACTIONS, name="post", order=59,
                 template="payments/_post_action.html", context=post_action),
    panels.Panel(page=panels.WORKSPACE, slot=panels.MAIN, name="payments", order=20,
                 template="payments/_workspace_payments.html", context=workspace_payments),
    panels.Panel(page=panels.WORKLIST_HOME, slot=panels.MAIN, name="answers", order=10,
                 template="payments/_worklist_answers.html", context=worklist_answers),
]
