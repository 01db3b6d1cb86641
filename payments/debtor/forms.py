"""Forms on the debtor's pages. Labels are plain words; every field says what it wants."""
from django import forms

from payments.links import identity
from portal.forms import AmountField


# The browser may fill in the debtor's own postal code; the other facts are typed.
AUTOCOMPLETE = {"postal_code": "postal-code"}
REQUIRED = {"postal_code": "Enter the postal code of your address.",
            "tax_id_last4": "Enter the last 4 digits of your SSN or tax ID.",
            "client_reference": "Enter your account number with the creditor.",
            "phone_last4": "Enter the last 4 digits of your phone number."}


class IdentityForm(forms.Form):
    """One text box per fact the portal asks for (payments.links.identity)."""

    def __init__(self, *args, facts, **kwargs):
        super().__init__(*args, **kwargs)
        for fact in facts:
            self.fields[fact.name] = forms.CharField(
                label=fact.label, help_text=fact.help, max_length=100,
                error_messages={"required": REQUIRED.get(fact.name, "Fill this in.")},
                widget=forms.TextInput(attrs={"autocomplete": AUTOCOMPLETE.get(fact.name, "off"),
                                              "autocapitalize": "characters",
                                              "inputmode": "numeric" if fact.name.endswith("last4") else "text"}))

    def clean(self):
        cleaned = super().clean()
        for name, answer in list(cleaned.items()):
            if (problem := identity.answer_problem(name, answer)) is not None:
                self.add_error(name, problem)  # before link_verify: a typo costs no try
        return cleaned


class PlanBuilderForm(forms.Form):
    """The plan builder. The page shows the monthly fields or the one-payment field depending on
    the choice (CSS :has), so each field's label can say plainly what it wants."""
    KINDS = [("installments", "Monthly payments"), ("settlement", "One payment")]
    kind = forms.ChoiceField(label="How do you want to pay?", choices=KINDS, widget=forms.RadioSelect,
                             initial="installments", error_messages={"required": "Choose monthly payments or one payment."})
    monthly_amount = AmountField(label="Amount each month", required=False, min_value=0, decimal_places=2,
                                 max_digits=14, help_text="For example 150.00.")
    months = forms.IntegerField(label="Or the number of months", required=False, min_value=1, max_value=120,
                                help_text="We split the balance evenly over the months.",
                                widget=forms.NumberInput(attrs={"inputmode": "numeric"}))
    settle_amount = AmountField(label="Amount of the one payment", required=False, min_value=0,
                                decimal_places=2, max_digits=14)
    first_due_date = forms.DateField(label="Date of the first (or only) payment",
                                     error_messages={"required": "Choose the date of the first payment.",
                                                     "invalid": "Enter a date, for example 12/24/2026."},
                                     widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(label="Anything the agency should know (optional)", required=False, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 2}))


class SignForm(forms.Form):
    consent = forms.BooleanField(
        label="I have read the disclosure above and agree to sign and receive this agreement electronically.",
        error_messages={"required": "Tick this box to agree to sign electronically."})
    typed_name = forms.CharField(label="Type your full name to sign", max_length=200,
                                 error_messages={"required": "Type your full name: it is your signature."},
                                 widget=forms.TextInput(attrs={"autocomplete": "name"}))


class DisputeForm(forms.Form):
    KINDS = [("dispute", "I dispute this debt"), ("validation", "I want the agency to verify (validate) this debt")]
    kind = forms.ChoiceField(label="What do you want to do?", choices=KINDS, widget=forms.RadioSelect,
                             initial="dispute")
    reason = forms.CharField(label="Tell us why", max_length=2000, widget=forms.Textarea(attrs={"rows": 3}),
                             error_messages={"required": "Tell us why, in a few words."})


class CallbackRequestForm(forms.Form):
    day = forms.DateField(label="Day", widget=forms.DateInput(attrs={"type": "date"}),
                          error_messages={"required": "Choose the day of the call.",
                                          "invalid": "Enter a date, for example 12/24/2026."})
    time = forms.TimeField(label="Time (your local time)", widget=forms.TimeInput(attrs={"type": "time"}),
                           help_text="Between 8:00 am and 9:00 pm.",
                           error_messages={"required": "Choose the time of the call.",
                                           "invalid": "Enter a time, for example 10:30 AM."})
    note = forms.CharField(label="What would you like to talk about? (optional)", required=False, max_length=300)
