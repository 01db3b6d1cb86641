"""Forms on the debtor's pages. Labels are plain words; every field says what it wants."""
from django import forms

from portal.forms import AmountField


class IdentityForm(forms.Form):
    """One text box per fact the portal asks for (payments.links.identity)."""

    def __init__(self, *args, facts, **kwargs):
        super().__init__(*args, **kwargs)
        for fact in facts:
            self.fields[fact.name] = forms.CharField(
                label=fact.label, help_text=fact.help, max_length=100,
                widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters",
                                              "inputmode": "numeric" if fact.name.endswith("last4") else "text"}))


class PlanBuilderForm(forms.Form):
    KINDS = [("installments", "Monthly payments"), ("settlement", "One payment")]
    kind = forms.ChoiceField(label="How do you want to pay?", choices=KINDS, widget=forms.RadioSelect,
                             initial="installments")
    monthly_amount = AmountField(label="Monthly amount", required=False, min_value=0, decimal_places=2,
                                        max_digits=14, help_text="Or leave empty and choose the number of months.",
                                        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}))
    months = forms.IntegerField(label="Number of months", required=False, min_value=1, max_value=120,
                                widget=forms.NumberInput(attrs={"inputmode": "numeric"}))
    settle_amount = AmountField(label="Amount of the one payment", required=False, min_value=0,
                                       decimal_places=2, max_digits=14,
                                       widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}))
    first_due_date = forms.DateField(label="First payment on", widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(label="Anything the agency should know (optional)", required=False, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 2}))


class SignForm(forms.Form):
    consent = forms.BooleanField(
        label="I have read the disclosure above and agree to sign and receive this agreement electronically.")
    typed_name = forms.CharField(label="Type your full name to sign", max_length=200,
                                 widget=forms.TextInput(attrs={"autocomplete": "name"}))


class DisputeForm(forms.Form):
    KINDS = [("dispute", "I dispute this debt"), ("validation", "I want the agency to verify (validate) this debt")]
    kind = forms.ChoiceField(label="What do you want to do?", choices=KINDS, widget=forms.RadioSelect,
                             initial="dispute")
    reason = forms.CharField(label="Tell us why", max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))


class CallbackRequestForm(forms.Form):
    day = forms.DateField(label="Day", widget=forms.DateInput(attrs={"type": "date"}))
    time = forms.TimeField(label="Time (your local time)", widget=forms.TimeInput(attrs={"type": "time"}),
                           help_text="Between 8:00 am and 9:00 pm.")
    note = forms.CharField(label="What would you like to talk about? (optional)", required=False, max_length=300)
