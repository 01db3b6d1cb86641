"""Forms for payments and offers. They parse input; payments.services decides."""
import uuid
from decimal import Decimal

from django import forms
from django.utils import timezone

from payments.limits import latest_payment_date
from payments.models import Frequency, Payment, PlanOffer, Reversal, SecureLink
from portal.forms import AmountField


class DirectPaymentForm(forms.Form):
    """A payment the debtor made straight to the client (the service checks it against the balance)."""

    amount = AmountField(label="Amount", min_value=Decimal("0.01"), max_digits=14, decimal_places=2)
    received_on = forms.DateField(label="Received on",
                                  widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    reference = forms.CharField(label="Reference", max_length=100, required=False,
                                help_text="Check number, transfer ID…")
    note = forms.CharField(label="Note", max_length=300, required=False)
    # Made when the form is drawn: the same form sent twice (a double click, the browser's
    # resubmit) records one payment, as on the staff form.
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=200, required=False)

    def __init__(self, *args, agency=None, **kwargs):
        kwargs.setdefault("auto_id", "payment_%s")
        latest = latest_payment_date(agency)
        kwargs["initial"] = {"idempotency_key": new_key(), "received_on": min(timezone.localdate(), latest),
                             **kwargs.get("initial", {})}
        super().__init__(*args, **kwargs)
        self.fields["received_on"].widget.attrs["max"] = latest.isoformat()


class PlanOfferForm(forms.Form):
    """A collector's payment-plan or settlement offer (payments.offers.services.offer_create).
    An installment plan takes either the number of installments or the installment amount."""

    kind = forms.ChoiceField(label="Offer", choices=PlanOffer.Kind.choices)
    total_amount = AmountField(label="Total to pay", min_value=0, decimal_places=2, max_digits=14)
    frequency = forms.ChoiceField(label="Paid", choices=Frequency.choices, initial=Frequency.MONTHLY, required=False)
    down_payment = AmountField(label="Down payment", required=False, min_value=0, decimal_places=2,
                                      max_digits=14, help_text="Optional; due on the first payment date.")
    installment_count = forms.IntegerField(label="Installments", required=False, min_value=1, max_value=60,
                                           initial=1)
    installment_amount = AmountField(label="or installment amount", required=False, min_value=0,
                                            decimal_places=2, max_digits=14)
    first_due_date = forms.DateField(label="First payment on", widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(label="Note (agency only)", required=False, max_length=2000)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "offer_%s")
        super().__init__(*args, **kwargs)


class OfferSendForm(forms.Form):
    channel = forms.ChoiceField(label="Send by", choices=SecureLink.Channel.choices, widget=forms.RadioSelect,
                                initial=SecureLink.Channel.EMAIL)


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("decline", "Decline")])
    note = forms.CharField(label="Note to the agency", required=False, max_length=2000,
                           help_text="Required when you decline: say what you would accept.",
                           widget=forms.Textarea(attrs={"rows": 2}))


class PlanCancelForm(forms.Form):
    reason = forms.CharField(label="Reason", max_length=300)


class AgreementVerifyForm(forms.Form):
    file = forms.FileField(label="The PDF the debtor sent back")


def new_key() -> str:
    """A payment form's idempotency key, made when the page is drawn: a double click or a
    resubmitted form posts one payment."""
    return uuid.uuid4().hex


class PaymentPostForm(forms.Form):
    """Staff post a payment (payments.posting.services.payment_post)."""

    amount = AmountField(label="Amount", min_value=Decimal("0.01"), max_digits=14, decimal_places=2)
    received_on = forms.DateField(label="Received on", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    method = forms.ChoiceField(label="Method", choices=[c for c in Payment.Method.choices
                                                        if c[0] != Payment.Method.DIRECT_TO_CLIENT])
    received_by = forms.ChoiceField(label="Received by", choices=Payment.ReceivedBy.choices, widget=forms.RadioSelect,
                                    initial=Payment.ReceivedBy.AGENCY)
    reference = forms.CharField(label="Reference", max_length=100, required=False,
                                help_text="Check number, ACH trace, card authorization…")
    note = forms.CharField(label="Note", max_length=300, required=False)
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=200)

    def __init__(self, *args, agency=None, **kwargs):
        kwargs.setdefault("auto_id", "post_%s")
        kwargs.setdefault("initial", {})
        latest = latest_payment_date(agency)  # what payment_post takes: the agency's today or UTC's
        today = min(timezone.localdate(), latest)  # the viewer's today, unless that is later
        kwargs["initial"] = {"idempotency_key": new_key(), "received_on": today, **kwargs["initial"]}
        super().__init__(*args, **kwargs)
        self.fields["received_on"].widget.attrs["max"] = latest.isoformat()


class ReversalForm(forms.Form):
    """Staff take money back from a payment (payments.posting.services.payment_reverse)."""

    kind = forms.ChoiceField(label="What happened", choices=Reversal.Kind.choices)
    amount = AmountField(label="Amount", required=False, min_value=Decimal("0.01"), max_digits=14, decimal_places=2,
                         help_text="Empty: all that is left of the payment.")
    return_code = forms.CharField(label="ACH return code", max_length=10, required=False, help_text="e.g. R01")
    reason = forms.CharField(label="Reason", max_length=300)
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=200)

    # What usually happens to a payment made this way, offered first.
    USUAL_KIND = {Payment.Method.CHECK: Reversal.Kind.BOUNCED_CHECK, Payment.Method.ACH: Reversal.Kind.RETURNED_ACH,
                  Payment.Method.CARD: Reversal.Kind.CARD_REFUND}

    def __init__(self, *args, payment=None, **kwargs):
        kwargs.setdefault("initial", {})
        usual = self.USUAL_KIND.get(getattr(payment, "method", None))
        kwargs["initial"] = {"idempotency_key": new_key(), **({"kind": usual} if usual else {}), **kwargs["initial"]}
        super().__init__(*args, **kwargs)


class JournalRangeForm(forms.Form):
    start = forms.DateField(label="From", required=False,
                            widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    end = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))

    def range(self, today=None):
        """(start, end): the chosen days, else the current month up to `today` (the agency's
        date, as its reversals are dated; default: the viewer's)."""
        today = today or timezone.localdate()
        start, end = today.replace(day=1), today
        if self.is_valid():
            start = self.cleaned_data.get("start") or start
            end = self.cleaned_data.get("end") or end
        return (start, end) if start <= end else (end, start)
