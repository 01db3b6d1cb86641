"""What payments shows on the account page and the workspace (debtor_accounts.panels;
registered in payments.apps). Each function returns the panel's context, or None to leave the
panel out for this viewer and account."""
from accounts import permissions
from collections_work.debtor_accounts import actions, panels
from collections_work.models import Dispute
from payments.forms import DirectPaymentForm, PlanOfferForm


def direct_payment_action(request, account, bound):
    """Client admins report a payment made to them while there is a balance to pay."""
    takes_payment = account.balance > 0 and account.status not in actions.NO_PAYMENTS_STATUSES
    if bound is None and not (permissions.can_report_direct_payment(request.user, account) and takes_payment):
        return None
    return {"form": bound or DirectPaymentForm()}


def payments_table(request, account, bound):
    return {"payments": list(account.payments.select_related("reported_by"))}


def offer_action(request, account, bound):
    """Collectors start an offer, except while the debtor's dispute is open."""
    if bound is None and Dispute.objects.filter(account=account, resolved_at__isnull=True).exists():
        return None
    return {"form": bound or PlanOfferForm(initial={"total_amount": account.balance})}


def workspace_money(request, account, bound):
    return {"offers": list(account.offers.select_related("created_by")[:5]),
            "payments": list(account.payments.all()[:20])}


PANELS = [
    panels.Panel(page=panels.ACCOUNT_PAGE, slot=panels.ACTIONS, name="payment", order=20,
                 template="payments/_direct_payment_action.html", context=direct_payment_action),
    panels.Panel(page=panels.ACCOUNT_PAGE, slot=panels.MAIN, name="payments", order=10,
                 template="payments/_payments_table.html", context=payments_table),
    panels.Panel(page=panels.WORKSPACE, slot=panels.ACTIONS, name="offer", order=60,
                 template="payments/_offer_action.html", context=offer_action),
    panels.Panel(page=panels.WORKSPACE, slot=panels.MAIN, name="money", order=10,
                 template="payments/_workspace_money.html", context=workspace_money),
]
