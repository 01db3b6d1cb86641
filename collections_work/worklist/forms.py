"""Forms for the worklist: the workspace's actions and the managers' queues, teams and
templates. They parse input; the services (worklist.services) decide."""
import re

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils import timezone

from accounts import permissions
from accounts.models import Client, Membership, User
from collections_work.compliance import UNKNOWN_ZONE_CANDIDATES
from collections_work.models import CallOutcome, Contact, ContactPolicy, Debtor, DebtorAccount, EmailTemplate, Queue, Team
from collections_work.debtor_accounts.selectors import AGE_BUCKETS
from collections_work.worklist.services import PLACEHOLDERS, staff_status_choices
from portal.forms import AmountField
from portal.time_zones import region_zones

UNKNOWN_ZONE = ("", "Unknown time zone")
US_ZONES = UNKNOWN_ZONE_CANDIDATES + ("America/Puerto_Rico", "America/Detroit", "America/Boise")


class UniqueNameMixin:
    """Names are unique per agency; say so on the field instead of failing on the constraint."""

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        taken = type(self.instance).objects.filter(name__iexact=name).exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError(f"There is already one named “{name}”.")
        return name


class WorkForm(forms.Form):
    """Each action form on the workspace gets its own id prefix, so ids stay unique."""

    prefix_id = "work"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", f"{self.prefix_id}_%s")
        super().__init__(*args, **kwargs)


def _contact_choices(account, kind):
    contacts = Contact.objects.filter(debtor_id=account.debtor_id, kind=kind).order_by("id")
    return [(c.pk, f"{c.value}{' (opted out)' if c.opted_out_at else ''}") for c in contacts]


class CallForm(WorkForm):
    prefix_id = "call"
    outcome = forms.ChoiceField(label="Outcome", choices=CallOutcome.choices, widget=forms.RadioSelect)
    contact = forms.TypedChoiceField(label="Number called", required=False, coerce=int, empty_value=None)
    note = forms.CharField(label="Note", required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    promise_amount = AmountField(label="Promised amount", required=False, min_value=0, decimal_places=2,
                                        max_digits=14, help_text="With the outcome “Promised to pay”.")
    promise_date = forms.DateField(label="Promised by", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contact"].choices = [("", "Not recorded")] + _contact_choices(account, Contact.Kind.PHONE)

    def clean(self):
        data = super().clean()
        promised = data.get("outcome") == CallOutcome.PROMISED
        for field in ("promise_amount", "promise_date"):
            if data.get(field) is not None and not promised:  # rather than dropping it without a word
                self.add_error(field, "A promise goes with the outcome “Promised to pay”: choose it, or clear this.")
        return data


class NoteForm(WorkForm):
    prefix_id = "note"
    text = forms.CharField(label="Note", max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))


class PromiseForm(WorkForm):
    prefix_id = "promise"
    amount = AmountField(label="Amount", min_value=0, decimal_places=2, max_digits=14)
    due_date = forms.DateField(label="Pay by", widget=forms.DateInput(attrs={"type": "date"}))


class CallbackForm(WorkForm):
    prefix_id = "callback"
    due_at = forms.DateTimeField(label="Call back at", widget=forms.DateTimeInput(attrs={"type": "datetime-local"},
                                                                                  format="%Y-%m-%dT%H:%M"),
                                 input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
                                 help_text="Your time zone.")
    note = forms.CharField(label="Note", required=False, max_length=300)


class EmailForm(WorkForm):
    prefix_id = "email"
    template = forms.TypedChoiceField(label="Template", coerce=int)
    contact = forms.TypedChoiceField(label="To", coerce=int)

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].choices = [(t.pk, t.name) for t in EmailTemplate.objects.filter(active=True)]
        self.fields["contact"].choices = _contact_choices(account, Contact.Kind.EMAIL)


class DisputeForm(WorkForm):
    prefix_id = "dispute"
    reason = forms.CharField(label="What the debtor disputes", max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class DisputeResolveForm(WorkForm):
    prefix_id = "resolve"
    resolution = forms.CharField(label="Resolution", max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class CeaseForm(WorkForm):
    prefix_id = "cease"
    confirm = forms.BooleanField(label="The debtor asked us to stop contacting them about this account")
    note = forms.CharField(label="How they asked (letter, call...)", required=False, max_length=2000)


class StaffStatusForm(WorkForm):
    prefix_id = "status"
    status = forms.ChoiceField(label="New status")
    reason = forms.CharField(label="Reason", max_length=500)

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = staff_status_choices(account)


# --- Managers ----------------------------------------------------------------------------------

def _staff_users():
    return User.objects.filter(membership__in=Membership.objects.filter(
        role__in=permissions.STAFF)).order_by("first_name", "email")


class StaffChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, user):
        return user.get_full_name() or user.email


class QueueForm(UniqueNameMixin, forms.ModelForm):
    statuses = forms.MultipleChoiceField(label="Status", required=False, widget=forms.CheckboxSelectMultiple,
                                         choices=[(DebtorAccount.Status.NEW, "New"),
                                                  (DebtorAccount.Status.ACTIVE, "In collection")],
                                         help_text="None ticked: both.")
    age_buckets = forms.MultipleChoiceField(label="Days past due", required=False, widget=forms.CheckboxSelectMultiple,
                                            choices=[(k, label) for k, (_lo, _hi, label) in AGE_BUCKETS.items()],
                                            help_text="None ticked: any age.")
    time_zones = forms.MultipleChoiceField(label="Debtor time zone", required=False,
                                           help_text="None chosen: any zone.",
                                           widget=forms.SelectMultiple(attrs={"size": 6}))
    collectors = StaffChoiceField(label="Collectors", queryset=User.objects.none(), required=False,
                                  widget=forms.CheckboxSelectMultiple)
    # Tenant rows: querysets are set per request in __init__ (there is no tenant at import time).
    clients = forms.ModelMultipleChoiceField(label="Clients", queryset=None, required=False,
                                             widget=forms.CheckboxSelectMultiple, help_text="None ticked: every client.")
    teams = forms.ModelMultipleChoiceField(label="Teams", queryset=None, required=False,
                                           widget=forms.CheckboxSelectMultiple)
    assigned_collector = forms.ModelChoiceField(label="Chosen collector", queryset=User.objects.none(), required=False)

    class Meta:
        model = Queue
        fields = ["name", "position", "clients", "statuses", "balance_min", "balance_max", "age_buckets",
                  "time_zones", "assignment", "assigned_collector", "due_only", "all_collectors",
                  "collectors", "teams"]
        labels = {"balance_min": "Balance from", "balance_max": "Balance up to", "due_only": "Only accounts with something due"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["clients"].queryset = Client.objects.order_by("name")
        self.fields["teams"].queryset = Team.objects.all()
        self.fields["collectors"].queryset = _staff_users()
        self.fields["assigned_collector"].queryset = _staff_users()
        in_use = Debtor.objects.exclude(time_zone="").values_list("time_zone", flat=True).distinct()[:50]
        zones = sorted(set(US_ZONES) | set(in_use))
        self.fields["time_zones"].choices = [UNKNOWN_ZONE] + [(z, z) for z in zones]

    def clean(self):
        data = super().clean()
        low, high = data.get("balance_min"), data.get("balance_max")
        if low is not None and high is not None and low > high:
            self.add_error("balance_max", "The upper bound is below the lower one.")
        if data.get("assignment") == Queue.Assignment.COLLECTOR and not data.get("assigned_collector"):
            self.add_error("assigned_collector", "Choose the collector whose accounts this queue holds.")
        return data


class TeamForm(UniqueNameMixin, forms.ModelForm):
    members = StaffChoiceField(label="Members", queryset=User.objects.none(), required=False,
                               widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = Team
        fields = ["name", "members"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["members"].queryset = _staff_users()


class EmailTemplateForm(UniqueNameMixin, forms.ModelForm):
    class Meta:
        model = EmailTemplate
        fields = ["name", "subject", "body", "active"]
        widgets = {"body": forms.Textarea(attrs={"rows": 8})}
        help_texts = {"body": "Placeholders: " + ", ".join("{%s}" % p for p in PLACEHOLDERS)
                      + ". An opt-out link is added below every email."}

    def clean_subject(self):
        return _known_placeholders(self.cleaned_data["subject"])

    def clean_body(self):
        return _known_placeholders(self.cleaned_data["body"])


def _known_placeholders(text: str) -> str:
    """A brace the email would show as written (a misspelt or unclosed placeholder) is refused."""
    unknown = [piece for piece in re.findall(r"\{[^{}]*\}?", text)
               if not (piece.endswith("}") and piece[1:-1] in PLACEHOLDERS)]
    if unknown:
        problem = "is not a placeholder" if unknown[0].endswith("}") else "has no closing brace"
        raise forms.ValidationError(
            f"{unknown[0]} {problem}. Use " + ", ".join("{%s}" % p for p in PLACEHOLDERS) + ".")
    return text


class FiguresRangeForm(forms.Form):
    start = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise forms.ValidationError("“From” is after “To”: showing today instead.")
        return data

    def range(self):
        """The chosen dates, or today when none (or a wrong range) was given; errors say which."""
        today = timezone.localdate()
        if not self.is_valid():
            return today, today
        return self.cleaned_data.get("start") or today, self.cleaned_data.get("end") or today


class ContactPolicyForm(forms.ModelForm):
    class Meta:
        model = ContactPolicy
        fields = ["earliest_hour", "latest_hour", "commercial_weekly_call_cap"]
        labels = {"earliest_hour": "Earliest hour (debtor's local time)", "latest_hour": "Latest hour",
                  "commercial_weekly_call_cap": "Call attempts per account in 7 days (commercial accounts)"}
        help_texts = {"latest_hour": "Contact must end before this hour; 24 means midnight.",
                      "commercial_weekly_call_cap": "Empty: no cap. Consumer and unknown-purpose accounts always "
                                                    "keep the legal cap of 7."}

    RANGES = {"earliest_hour": (0, 23, "Give an hour from 0 to 23."),
              "latest_hour": (1, 24, "Give an hour from 1 to 24."),
              "commercial_weekly_call_cap": (1, 100, "Give a number from 1 to 100, or leave it empty.")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, (low, high, message) in self.RANGES.items():  # one message per field, in the page and the check
            field = self.fields[name]
            field.widget.attrs.update(min=low, max=high)
            field.validators += [MinValueValidator(low), MaxValueValidator(high)]
            field.error_messages.update(min_value=message, max_value=message)


class DebtorTimeZoneForm(forms.Form):
    """Staff set where the debtor lives: a region name (US zones first), or unknown."""

    time_zone = forms.ChoiceField(label="Debtor's time zone", required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        us = [(zone, zone) for zone in UNKNOWN_ZONE_CANDIDATES]
        others = [(zone, zone) for zone in sorted(region_zones()) if zone not in UNKNOWN_ZONE_CANDIDATES]
        self.fields["time_zone"].choices = [("", "Unknown: fit every US zone"), ("US", us), ("Elsewhere", others)]
