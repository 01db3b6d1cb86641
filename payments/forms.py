"""Forms for payments and offers. They parse input; payments.services decides."""
from decimal import Decimal

from django import forms
from django.utils import timezone

from payments.models import Frequency, PlanOffer, SecureLink
from portal.forms import AmountField


class DirectPaymentForm(forms.Form):
    """A payment the debtor made straight to the client (the service checks it against the balance)."""

    amount = AmountField(label="Amount", min_value=Decimal("0.01"), max_digits=14, decimal_places=2,
                                widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}))
    received_on = forms.DateField(label="Received on",
                                  widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    reference = forms.CharField(label="Reference", max_length=100, required=False,
                                help_text="Check number, transfer ID…")
    note = forms.CharField(label="Note", max_length=300, required=False)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "payment_%s")
        super().__init__(*args, **kwargs)
        self.fields["received_on"].widget.attrs["max"] = timezone.localdate().isoformat()


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
