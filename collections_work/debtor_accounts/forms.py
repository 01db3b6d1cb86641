"""Forms for the debtor account pages: the list's filters and the account page's actions.

Each form only parses input; the services decide. The action forms share one page, so each
has its own `auto_id` to keep element ids unique while field names stay plain."""
from decimal import Decimal

from django import forms

from collections_work.debtor_accounts import actions
from collections_work.debtor_accounts.actions import By
from collections_work.models import DebtorAccount
from collections_work.debtor_accounts.selectors import AGE_BUCKETS, SORTS
from portal.forms import AmountField

ANY = [("", "Any")]


class AccountFilterForm(forms.Form):
    """The list's GET filters. Shown bound to the query so values stay; parsing for the query
    itself is AccountFilters.from_params (lenient), this form only points at bad input."""

    q = forms.CharField(label="Search", required=False, max_length=100,
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Any part of a reference or name"}))
    status = forms.ChoiceField(label="Status", required=False, choices=ANY + list(DebtorAccount.Status.choices))
    age = forms.ChoiceField(label="Days past due", required=False,
                            choices=ANY + [(key, label) for key, (_low, _high, label) in AGE_BUCKETS.items()])
    balance_min = AmountField(label="Balance from", required=False, min_value=Decimal("0"),
                                     decimal_places=2, max_digits=14, widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "placeholder": "0.00"}))
    balance_max = AmountField(label="Balance to", required=False, min_value=Decimal("0"),
                                     decimal_places=2, max_digits=14, widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "placeholder": "Any"}))
    batch = forms.TypedChoiceField(label="Placement", required=False, coerce=int, empty_value=None)
    client = forms.TypedChoiceField(label="Client", required=False, coerce=int, empty_value=None)
    sort = forms.ChoiceField(label="Sort by", required=False, choices=[(k, label) for k, (_c, label) in SORTS.items()])

    def __init__(self, *args, batches=(), clients=None, **kwargs):
        kwargs.setdefault("auto_id", "filter_%s")
        super().__init__(*args, **kwargs)
        self.fields["batch"].choices = ANY + list(batches)
        if clients is None:
            del self.fields["client"]
        else:
            self.fields["client"].choices = [("", "All clients")] + list(clients)


class AccountStatusForm(forms.Form):
    status = forms.ChoiceField(label="Action", widget=forms.RadioSelect)
    reason = forms.CharField(label="Reason", max_length=500,
                             help_text="Shown on the account's timeline to you and the agency.",
                             widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, account, **kwargs):
        kwargs.setdefault("auto_id", "status_%s")
        super().__init__(*args, **kwargs)
        choices = actions.status_choices(account, By.CLIENT)
        self.fields["status"].choices = choices
        if len(choices) == 1:
            self.fields["status"].initial = choices[0][0]


class AccountNoteForm(forms.Form):
    text = forms.CharField(label="Note", max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "note_%s")
        super().__init__(*args, **kwargs)


class AccountMessageForm(forms.Form):
    text = forms.CharField(label="Message to the agency", max_length=5000,
                           help_text="Your agency sees it on the account's timeline.",
                           widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "message_%s")
        super().__init__(*args, **kwargs)


class AccountDocumentForm(forms.Form):
    file = forms.FileField(label="File", help_text="PDF, image, CSV, text, Word or Excel; up to 20 MB.")

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "document_%s")
        super().__init__(*args, **kwargs)
