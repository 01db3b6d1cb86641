"""Forms for payments and offers. They parse input; payments.services decides."""
from decimal import Decimal

from django import forms
from django.utils import timezone

from payments.models import PlanOffer


class DirectPaymentForm(forms.Form):
    """A payment the debtor made straight to the client (the service checks it against the balance)."""

    amount = forms.DecimalField(label="Amount", min_value=Decimal("0.01"), max_digits=14, decimal_places=2,
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
    """A collector's payment-plan or settlement proposal (payments.services.plan_offer_start)."""

    kind = forms.ChoiceField(label="Offer", choices=PlanOffer.Kind.choices)
    total_amount = forms.DecimalField(label="Total to pay", min_value=0, decimal_places=2, max_digits=14)
    installment_count = forms.IntegerField(label="Installments", min_value=1, max_value=60, initial=1)
    first_due_date = forms.DateField(label="First payment on", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "offer_%s")
        super().__init__(*args, **kwargs)
