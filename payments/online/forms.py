"""Forms of the online payment pages."""
from django import forms


class StripeKeysForm(forms.Form):
    """The agency's Stripe keys. Once connected, an empty secret keeps the saved one."""

    publishable_key = forms.CharField(label="Publishable key", max_length=255,
                                      help_text="Starts with pk_live_ (or pk_test_ to try it out).",
                                      widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))
    secret_key = forms.CharField(label="Secret key", max_length=255, required=False,
                                 widget=forms.PasswordInput(attrs={"autocomplete": "off"}))
    webhook_secret = forms.CharField(label="Webhook signing secret", max_length=255, required=False,
                                     widget=forms.PasswordInput(attrs={"autocomplete": "off"}))

    def __init__(self, *args, connected: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if connected:
            keep = "Leave empty to keep the saved one."
            self.fields["secret_key"].help_text = f"Starts with sk_live_ (or a restricted key, rk_live_). {keep}"
            self.fields["webhook_secret"].help_text = f"Starts with whsec_, from the webhook endpoint in Stripe. {keep}"
        else:
            self.fields["secret_key"].required = self.fields["webhook_secret"].required = True
            self.fields["secret_key"].help_text = "Starts with sk_live_ (or a restricted key, rk_live_)."
            self.fields["webhook_secret"].help_text = ("Starts with whsec_: add the webhook endpoint below in "
                                                       "Stripe first, then copy its signing secret.")


class PayForm(forms.Form):
    """What the debtor pays: the next installment, the whole balance, or another amount."""

    choice = forms.ChoiceField(label="What do you want to pay?", widget=forms.RadioSelect)
    other_amount = forms.CharField(label="Amount", required=False, max_length=20,
                                   widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off",
                                                                 "placeholder": "0.00"}))
    save_card = forms.BooleanField(label="Save this card to pay my plan's installments automatically on their "
                                         "due dates", required=False)

    def __init__(self, *args, options, **kwargs):
        super().__init__(*args, **kwargs)
        self.options = options
        currency = options.currency
        choices = []
        if options.next_installment is not None:
            due = options.next_installment.due_date
            choices.append(("installment", f"Next installment: {options.installment_amount:,.2f} {currency}, "
                                           f"due {due:%b} {due.day}, {due:%Y}"))
        choices += [("balance", f"The whole balance: {options.balance:,.2f} {currency}"),
                    ("other", "Another amount")]
        self.fields["choice"].choices = choices
        if options.plan is None:
            del self.fields["save_card"]

    def clean(self):
        data = super().clean()
        data.setdefault("save_card", False)
        return data
