"""Forms for placing accounts: upload, column mapping, and the single-account form."""
from django import forms

from accounts.models import Client
from collections_work.placements.intake import kinds
from collections_work.placements.intake.fields import FIELDS
from collections_work.placements.intake.values import AMOUNT_FORMATS, DATE_FORMATS
from collections_work.debtor_accounts.money import currency_choices
from collections_work.models import ColumnMapping, DebtPurpose, PlacementBatch


class ClientChoiceMixin:
    """Agency staff place accounts for a client they choose; client users for their own."""

    def add_client_field(self, staff: bool):
        if staff:
            self.fields["client"] = forms.ModelChoiceField(
                queryset=Client.objects.filter(status=Client.Status.ACTIVE), label="Client",
                help_text="The creditor these accounts are placed for.")
            self.order_fields(["client", *[n for n in self.fields if n != "client"]])


class UploadForm(ClientChoiceMixin, forms.Form):
    file = forms.FileField(label="Export file (CSV or Excel .xlsx)",
                           help_text="Any column names and order: you check the mapping on the next page.",
                           widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.tsv,.xlsx"}))

    def __init__(self, *args, staff=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_client_field(staff)


UPDATE_EXPLAINED = ("Update replaces the amounts, dates and details the file gives. Its paid column is the "
                    "paid-to-date before placement: it replaces the one placed earlier, and payments recorded "
                    "here since are kept on top of it (balance = principal + interest + fees − the file's paid − "
                    "payments recorded here). Without a paid column, what was paid stays as it is.")


class MappingForm(forms.Form):
    amount_format = forms.ChoiceField(choices=[(k, v[0]) for k, v in AMOUNT_FORMATS.items()],
                                      label="Amounts are written like")
    date_format = forms.ChoiceField(choices=list(DATE_FORMATS.items()), label="Dates that are not YYYY-MM-DD are",
                                    help_text="ISO dates (2024-01-31) and Excel date cells are always understood.")
    default_debt_purpose = forms.ChoiceField(choices=DebtPurpose.choices, label="Debt purpose when the file has none")
    parties_by_row = forms.BooleanField(
        required=False, label="Rows with the same reference are parties of one account",
        help_text="For exports with one row per person: the first row of a reference is the account and its "
                  "debtor, the later rows its co-debtors (or guarantors, if a role column says so).")
    currency = forms.ChoiceField(choices=(), required=False, label="Currency of every amount in the file",
                                 help_text="One currency a placement. A row whose amount names another currency "
                                           "(€, EUR, ¥...) is rejected, never converted.")
    on_duplicate = forms.ChoiceField(choices=PlacementBatch.OnDuplicate.choices, widget=forms.RadioSelect,
                                     label="When a reference is already placed",
                                     help_text=UPDATE_EXPLAINED)
    save_as = forms.CharField(required=False, max_length=100, label="Save this mapping as",
                              help_text="Optional. Next time a file with these columns is mapped for you.")

    def __init__(self, *args, batch: PlacementBatch, **kwargs):
        super().__init__(*args, **kwargs)
        self.batch = batch
        kind = kinds.get(batch.kind) if batch.kind != kinds.PLACEMENT else None
        self.kind_fields = kind.fields if kind else FIELDS
        self.option_names = ["amount_format", "date_format", "currency", "default_debt_purpose", "parties_by_row"]
        self.fields["currency"].choices = currency_choices()
        if kind is not None:  # a batch kind: its own options; no debt purpose, no "already placed" choice
            for name in ("default_debt_purpose", "on_duplicate", "currency", "parties_by_row"):
                del self.fields[name]
            self.option_names = ["amount_format", "date_format"]
            for name, (label, choices, default) in kind.options.items():
                self.fields[name] = forms.ChoiceField(choices=choices, label=label, initial=default)
                self.option_names.append(name)
            self.order_fields([*self.option_names, "save_as"])
        choices = [("", "— not in this file —")] + [(str(i), h) for i, h in enumerate(batch.headers)]
        for field in self.kind_fields:
            self.fields[f"map_{field.key}"] = forms.ChoiceField(
                choices=choices, required=False, label=field.label + (" *" if field.required else ""))
        if not self.is_bound:
            self.initial.update({f"map_{k}": str(v) for k, v in batch.mapping.items()})
            self.initial.update({k: batch.options.get(k) for k in self.option_names if k in batch.options})
            if "currency" in self.fields:
                self.initial["currency"] = batch.options.get("currency") or batch.client.currency
            self.initial["on_duplicate"] = batch.on_duplicate

    def mapping(self) -> dict:
        return {f.key: self.cleaned_data[f"map_{f.key}"] for f in self.kind_fields
                if self.cleaned_data.get(f"map_{f.key}") != ""}

    def options(self) -> dict:
        options = {k: self.cleaned_data[k] for k in self.option_names}
        if "currency" in options:  # not posted (an older page): the placement's currency, else the client's
            options["currency"] = (options["currency"] or self.batch.options.get("currency")
                                   or self.batch.client.currency)
        return options

    def option_fields(self):
        """The format (and duplicate) choices beside the columns, in order."""
        names = [*self.option_names] + (["on_duplicate"] if "on_duplicate" in self.fields else []) + ["save_as"]
        return [self[name] for name in names]

    def mapping_fields(self):
        return [self[f"map_{f.key}"] for f in self.kind_fields]


class SavedMappingForm(forms.Form):
    saved = forms.ModelChoiceField(queryset=None, label="Use a saved mapping")  # set per client below

    def __init__(self, *args, client, kind="placement", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["saved"].queryset = ColumnMapping.objects.filter(client=client, kind=kind)


DATE_INPUT = forms.DateInput(attrs={"type": "date"})


class SingleAccountForm(ClientChoiceMixin, forms.Form):
    """One account typed in. Field names are the placement field keys, so errors map back."""

    debtor_kind = forms.ChoiceField(choices=[("business", "Business"), ("person", "Person")], label="Debtor is a",
                                    widget=forms.RadioSelect, initial="business")
    debtor_name = forms.CharField(max_length=200, label="Debtor name")
    tax_id = forms.CharField(required=False, max_length=30, label="Tax ID / national ID",
                             help_text="Only the last four digits are kept.")
    email = forms.CharField(required=False, max_length=254)
    phone = forms.CharField(required=False, max_length=40)
    address_line1 = forms.CharField(required=False, max_length=200, label="Address")
    address_line2 = forms.CharField(required=False, max_length=200, label="Address line 2")
    city = forms.CharField(required=False, max_length=100)
    region = forms.CharField(required=False, max_length=100, label="State / region")
    postal_code = forms.CharField(required=False, max_length=20)
    country = forms.CharField(required=False, max_length=60, initial="US")
    client_reference = forms.CharField(max_length=100, label="Your reference",
                                       help_text="Unique among your accounts, e.g. your customer or invoice number.")
    debt_purpose = forms.ChoiceField(choices=DebtPurpose.choices, initial=DebtPurpose.COMMERCIAL)
    principal = forms.CharField(label="Principal / balance ($)", max_length=30)
    interest = forms.CharField(required=False, label="Interest ($)", max_length=30)
    fees = forms.CharField(required=False, label="Fees ($)", max_length=30)
    paid = forms.CharField(required=False, label="Already paid ($)", max_length=30)
    invoice_number = forms.CharField(required=False, max_length=200, label="Invoice number(s)",
                                     help_text="Separate several with commas.")
    invoice_date = forms.DateField(required=False, widget=DATE_INPUT)
    due_date = forms.DateField(required=False, widget=DATE_INPUT)
    delinquency_date = forms.DateField(required=False, widget=DATE_INPUT, help_text="Defaults to the due date.")
    last_payment_date = forms.DateField(required=False, widget=DATE_INPUT)
    co_debtor_name = forms.CharField(required=False, max_length=200, label="Co-debtor name")
    co_debtor_email = forms.CharField(required=False, max_length=254, label="Co-debtor email")
    guarantor_name = forms.CharField(required=False, max_length=200, label="Guarantor name")
    guarantor_email = forms.CharField(required=False, max_length=254, label="Guarantor email")
    on_duplicate = forms.ChoiceField(choices=PlacementBatch.OnDuplicate.choices, initial="skip",
                                     label="If this reference is already placed")

    def __init__(self, *args, staff=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_client_field(staff)

    def row(self) -> dict:
        data = {k: v for k, v in self.cleaned_data.items() if k not in ("client", "on_duplicate")}
        return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items() if v not in (None, "")}

    SECTIONS = [
        ("Debtor", ["debtor_kind", "debtor_name", "tax_id", "email", "phone"]),
        ("Address", ["address_line1", "address_line2", "city", "region", "postal_code", "country"]),
        ("The claim", ["client_reference", "debt_purpose", "principal", "interest", "fees", "paid", "invoice_number",
                       "invoice_date", "due_date", "delinquency_date", "last_payment_date", "on_duplicate"]),
        ("Other parties (optional)", ["co_debtor_name", "co_debtor_email", "guarantor_name", "guarantor_email"]),
    ]

    def sections(self):
        return [(title, [self[name] for name in names]) for title, names in self.SECTIONS]
