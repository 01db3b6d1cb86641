"""Direct payments reported by the client on the account page (thin: parse a form, call a service,
redirect; a refused form is drawn again on its page through debtor_accounts.panels)."""
from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from accounts.access import client_admin_required
from collections_work.debtor_accounts import panels
from collections_work.models import DebtorAccount
from payments import services
from payments.forms import DirectPaymentForm
from portal.errors import DomainError
from portal.forms import add_domain_error
from portal.tenancy import get_scoped_or_404


@client_admin_required
@require_POST
def direct_payment_report(request, pk):
    """A client admin reports a payment the debtor made straight to the client."""
    account = get_scoped_or_404(DebtorAccount.objects.select_related("client", "placement_batch"), pk=pk)
    form = DirectPaymentForm(request.POST, agency=request.agency)
    if form.is_valid():
        try:
            payment = services.payment_report_direct(agency=request.agency, actor=request.user, account=account,
                                                     **form.cleaned_data)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            account.refresh_from_db()
            text = f"Payment of {payment.amount:,.2f} {account.currency} recorded."
            if account.status == DebtorAccount.Status.PAID:
                text += " The account is now paid in full."
            messages.success(request, text)
            return redirect("debtor_account_detail", pk=account.pk)
    return panels.redraw(panels.ACCOUNT_PAGE, request, account, name="payment", form=form)
