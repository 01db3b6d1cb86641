import zoneinfo

from django import forms
from django.contrib.auth import password_validation

from accounts.models import STAFF_ROLES, Agency, Client, ContractTerms, Role
from accounts.services import fee_tiers_check
from portal.currency import currency_choices
from portal.errors import DomainError
from portal.forms import AmountField

TIME_ZONES = sorted(zoneinfo.available_timezones())


class ClientInviteForm(forms.Form):
    name = forms.CharField(label="Client name", max_length=150,
                           help_text="How the client appears in the portal, e.g. “Acme Supplies”.")
    admin_email = forms.EmailField(label="Client admin's email",
                                   help_text="They get a link to set a password and complete onboarding.")


class StaffInviteForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=[(r.value, r.label) for r in Role if r in STAFF_ROLES])


class ClientUserInviteForm(forms.Form):
    email = forms.EmailField(help_text="Your colleague gets read-only access to your client's accounts.")


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class InvitationAcceptForm(forms.Form):
    full_name = forms.CharField(label="Your full name", max_length=150,
                                widget=forms.TextInput(attrs={"autocomplete": "name"}))
    password1 = forms.CharField(label="Choose a password", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password2 = forms.CharField(label="Repeat the password", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def __init__(self, *args, email=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email
        # The rules up front, from the configured validators (the same list allauth's password pages show).
        self.fields["password1"].help_text = password_validation.password_validators_help_text_html()

    def clean(self):
        data = super().clean()
        first, second = data.get("password1"), data.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords do not match.")
        elif first:
            from accounts.models import User

            try:
                password_validation.validate_password(first, User(email=self.email, full_name=data.get("full_name", "")))
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return data


class ContractTermsForm(forms.ModelForm):
    class Meta:
        model = ContractTerms
        fields = ["fee_type", "flat_fee_percent", "settlement_floor_percent", "max_plan_months",
                  "min_installment", "remittance_method", "remittance_day", "allocation_order"]
        labels = {
            "flat_fee_percent": "Contingency fee (%)",
            "settlement_floor_percent": "Settlement floor (% of balance)",
            "max_plan_months": "Longest payment plan (months)",
            "min_installment": "Smallest installment ($)",
        }
        widgets = {"fee_type": forms.RadioSelect, "remittance_method": forms.RadioSelect}
        field_classes = {"flat_fee_percent": AmountField, "settlement_floor_percent": AmountField,
                         "min_installment": AmountField}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["allocation_order"].required = False  # empty keeps what the terms say

    def clean_allocation_order(self):
        return self.cleaned_data.get("allocation_order") or self.instance.allocation_order


class FeeTierForm(forms.Form):
    min_age_days = forms.IntegerField(label="From (days)", min_value=0, required=False)
    max_age_days = forms.IntegerField(label="To (days)", min_value=0, required=False,
                                      help_text="Leave empty on the last tier.")
    fee_percent = AmountField(label="Fee (%)", min_value=0, max_value=100, decimal_places=2, required=False)

    def clean(self):
        data = super().clean()
        if data.get("min_age_days") is not None and data.get("fee_percent") is None:
            self.add_error("fee_percent", "Enter the fee for this tier.")
        if data.get("fee_percent") is not None and data.get("min_age_days") is None:
            self.add_error("min_age_days", "Enter the age this tier starts at.")
        return data


class BaseFeeTierFormSet(forms.BaseFormSet):
    """Checks the tiers as a whole (start at 0, no gaps or overlaps, open-ended last tier) when
    "Tiers" is the chosen fee type, so these errors show together with every other error on the
    page. The service checks the same rules again before saving."""

    def clean(self):
        super().clean()
        if self.data.get("fee_type") != ContractTerms.FeeType.TIERED:
            return
        if any(form.errors for form in self.forms):
            return  # the rows' own errors come first; the whole is checked once they are fixed
        rows = [form.cleaned_data for form in self.forms
                if form.cleaned_data and form.cleaned_data.get("min_age_days") is not None]
        try:
            fee_tiers_check(ContractTerms.FeeType.TIERED, sorted(rows, key=lambda row: row["min_age_days"]))
        except DomainError as error:
            raise forms.ValidationError(error.message) from error


FeeTierFormSet = forms.formset_factory(FeeTierForm, formset=BaseFeeTierFormSet, extra=0, max_num=10)


class AgencySettingsForm(forms.ModelForm):
    time_zone = forms.ChoiceField(choices=[(z, z) for z in TIME_ZONES])
    debtor_link_days = forms.IntegerField(
        label="Debtor links expire after (days)", required=False, min_value=1, max_value=90,
        help_text="How long a secure link sent to a debtor stays valid (1-90; empty keeps the current value).")

    autopay_hour = forms.IntegerField(
        label="Charge saved cards at (the debtor's hour)", required=False, min_value=0, max_value=20,
        help_text="Automatic plan payments are charged on the due date at this hour where the debtor lives (0-20).")
    autopay_retry_days = forms.IntegerField(
        label="After a declined card, try again after (days)", required=False, min_value=1, max_value=30)
    autopay_max_tries = forms.IntegerField(
        label="Tries per installment", required=False, min_value=1, max_value=10,
        help_text="How many times a saved card is charged for one installment before the portal stops trying.")

    def clean_debtor_link_days(self):
        return self.cleaned_data["debtor_link_days"] or self.instance.debtor_link_days

    def _or_current(self, name):
        value = self.cleaned_data.get(name)
        return getattr(self.instance, name) if value is None else value

    def clean_autopay_hour(self):
        return self._or_current("autopay_hour")

    def clean_autopay_retry_days(self):
        return self._or_current("autopay_retry_days")

    def clean_autopay_max_tries(self):
        return self._or_current("autopay_max_tries")

    class Meta:
        model = Agency
        fields = ["name", "mfa_required_for_staff", "time_zone", "postal_address", "phone", "debtor_link_days",
                  "autopay_hour", "autopay_retry_days", "autopay_max_tries"]
        labels = {"mfa_required_for_staff": "Require an authenticator app (TOTP) for all agency staff",
                  "postal_address": "Postal address", "phone": "Phone for debtors"}


class CompanyStepForm(forms.ModelForm):
    class Meta:
        model = Client
        fields = ["legal_name", "address_line1", "address_line2", "city", "region", "postal_code", "country", "phone",
                  "currency"]
        labels = {"legal_name": "Company legal name", "country": "Country (2-letter code)"}
        help_texts = {"currency": "Accounts you place are in this currency unless you choose another for a placement."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"] = forms.ChoiceField(choices=currency_choices(), label="Currency of placed accounts",
                                                    required=False, help_text=self._meta.help_texts["currency"])
        for name in ["legal_name", "address_line1", "city", "postal_code", "country"]:
            self.fields[name].required = True

    def clean_currency(self):
        return self.cleaned_data.get("currency") or self.instance.currency or "USD"

    def clean_country(self):
        value = self.cleaned_data["country"].strip().upper()
        if len(value) != 2 or not value.isalpha():
            raise forms.ValidationError("Use the two-letter country code, e.g. US or GB.")
        return value


class ContactsStepForm(forms.ModelForm):
    class Meta:
        model = Client
        fields = ["billing_contact_name", "billing_contact_email", "operations_contact_name", "operations_contact_email"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = True


def _digits(value, label, low, high):
    digits = "".join(ch for ch in value if not ch.isspace() and ch != "-")
    if not digits.isdigit() or not (low <= len(digits) <= high):
        # "9 digits exactly" rather than "exactly 9 digits": tests/accounts/test_onboarding.py
        # looks for "routing number must be 9".
        size = f"{low} digits exactly" if low == high else f"{low}–{high} digits"
        raise forms.ValidationError(f"{label} must be {size}.")
    return digits


class RemittanceStepForm(forms.Form):
    bank_name = forms.CharField(max_length=150)
    account_name = forms.CharField(label="Name on the account", max_length=150)
    routing_number = forms.CharField(label="Routing number", max_length=20,
                                     widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}))
    account_number = forms.CharField(label="Account number", max_length=34,
                                     help_text="We keep only the last four digits on file.",
                                     widget=forms.PasswordInput(attrs={"autocomplete": "off", "inputmode": "numeric"}))

    def clean_routing_number(self):
        return _digits(self.cleaned_data["routing_number"], "The routing number", 9, 9)

    def clean_account_number(self):
        return _digits(self.cleaned_data["account_number"], "The account number", 4, 17)


class TermsStepForm(forms.Form):
    accept = forms.BooleanField(label="I accept the agency's terms shown above on behalf of the company.",
                                error_messages={"required": "Tick the box to accept the agency's terms."})
