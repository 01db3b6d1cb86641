"""Input and output serializers of the client placement API.

Input serializers check JSON *types and shapes* only (text is a string, an amount is a string
or a number, a bulk request is a list of at most 1000 objects). What a value must contain -
required fields, amounts, dates, emails, debt purpose - is checked by the placement rules
(`services.accounts_place` -> `intake.rows.RowValidator`), so an API call, the form and a file
upload give the same messages for the same mistakes.
"""
from decimal import Decimal

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import SkipField, empty

from collections_work.debtor_accounts import selectors
from collections_work.placements.intake.fields import FIELDS, REQUIRED_FIELDS
from collections_work.models import DebtorAccount, DebtPurpose, PlacementBatch
from portal.api import AmountInput
from portal.time_zones import is_region_zone

MAX_ACCOUNTS_PER_REQUEST = 1000
MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50
AMOUNT_FIELDS = ("principal", "interest", "fees", "paid")
DATE_FIELDS = ("invoice_date", "due_date", "delinquency_date", "last_payment_date")
MAX_BALANCE = Decimal("1000000000000")  # DebtorAccount's money columns: 14 digits, 2 of them cents
MAX_DB_ID = 2**63 - 1


def json_kind(value) -> str:
    """How a JSON value is called in a message ("a number", "a list", ...)."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float, Decimal)):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "a string" if isinstance(value, str) else type(value).__name__


def printable(text: str) -> str:
    """`text` safe to put in a JSON response (lone surrogates cannot be encoded as UTF-8)."""
    return str(text).encode("utf-8", "backslashreplace").decode("utf-8")[:100]


class RejectUnknownFields:
    """A mistyped field name (`principle`) is an error, not silently ignored."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = [key for key in data if key not in self.fields]
            if unknown:
                raise serializers.ValidationError(
                    {printable(key): ["Unknown field; the schema at /api/schema/ lists the fields you can send."]
                     for key in unknown[:20]})
        return super().to_internal_value(data)


# --- Placement fields ------------------------------------------------------------------------

class PlacementText(serializers.CharField):
    """A placement field sent as a JSON string (or null). Numbers, lists and objects are refused
    here; a missing or empty value is left for the placement rules to report (or to default)."""

    default_error_messages = {"type": "Send this as text (a JSON string), not {kind}."}

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def validate_empty_values(self, data):
        if data is empty:
            raise SkipField()  # "Client reference is missing" comes from the placement rules
        return super().validate_empty_values(data)

    def run_validation(self, data=empty):
        if data is not empty and data is not None and not isinstance(data, str):
            self.fail("type", kind=json_kind(data))
        return super().run_validation(data)


@extend_schema_field(OpenApiTypes.DATE)
class PlacementDate(PlacementText):
    """A date as an ISO string, YYYY-MM-DD."""


@extend_schema_field({
    "oneOf": [{"type": "string", "example": "1234.56"}, {"type": "number", "example": 1234.56}],
    "description": "An amount: a string such as \"1234.56\" or \"$1,234.56\", or a JSON number "
                   "(a number is rounded half-up to cents; a string must not have more than 2 decimals).",
})
class PlacementAmount(PlacementText):
    """An amount: a string ("1234.56", "$1,234.56") or a JSON number (read as Decimal by the
    API's JSON parser, never as a float). Whether it is a valid amount is the placement rules'."""

    default_error_messages = {"type": "Send an amount as a string such as \"1234.56\" or as a number, not {kind}."}

    def run_validation(self, data=empty):
        if isinstance(data, (int, Decimal)) and not isinstance(data, bool):
            return data
        return super().run_validation(data)


HELP = {
    "client_reference": "Your unique reference for this account (at most 100 characters).",
    "debtor_name": "The debtor's name (business or person).",
    "debtor_kind": "business or person (default: person with an SSN-formatted tax ID or a consumer debt, else "
                   "business).",
    "client_debtor_id": "Your own ID for the debtor: accounts with the same ID are one debtor.",
    "tax_id": "Tax ID or national ID; only its last four digits are kept.",
    "time_zone": "An IANA region name such as America/Chicago (abbreviations like EST are not taken); without it the "
                 "zone comes from the ZIP code, state or phone area code.",
    "principal": "Principal (or the open balance).",
    "debt_purpose": "commercial, consumer or unknown (default unknown).",
}


def _placement_field(field):
    required = field.key in REQUIRED_FIELDS
    options = {"required": required, "allow_null": not required, "help_text": HELP.get(field.key, field.label)}
    if field.key in AMOUNT_FIELDS:
        return PlacementAmount(**options)
    if field.key in DATE_FIELDS:
        return PlacementDate(**options)
    return PlacementText(**options)


class AccountIn(RejectUnknownFields, serializers.Serializer):
    """One account to place: the placement fields by their keys."""

    def get_fields(self):
        # Each account is one object with its parties in it: no file rows to join by a role column.
        return {field.key: _placement_field(field) for field in FIELDS if field.key != "party_role"}

    def validate_time_zone(self, value):
        """A file's "EST" becomes a note on the debtor and the zone comes from the ZIP code, state
        or phone; a system sending one was answered 201 and never heard it was not taken."""
        if value and not is_region_zone(str(value).strip()):
            raise serializers.ValidationError(f"“{printable(value)[:40]}” is not a time zone region name: send one like "
                                              "America/New_York (abbreviations like EST are not taken), or leave it out "
                                              "to have it worked out from the ZIP code, state or phone.")
        return value


ON_DUPLICATE_HELP = ("What to do with an account whose client reference is already placed: `skip` leaves it "
                     "as it is (default), `update` replaces its details and amounts (payments stay).")


class AccountPlaceIn(AccountIn):
    """One account, optionally with `on_duplicate` (it may also be given in the query string)."""

    def get_fields(self):
        fields = super().get_fields()
        fields["on_duplicate"] = serializers.ChoiceField(choices=PlacementBatch.OnDuplicate.values, required=False,
                                                         help_text=ON_DUPLICATE_HELP)
        return fields


class PlaceQuery(serializers.Serializer):
    on_duplicate = serializers.ChoiceField(choices=PlacementBatch.OnDuplicate.values, required=False,
                                           help_text=ON_DUPLICATE_HELP)


class CheckedRows:
    """The rows of a bulk request after their types were checked: `rows[i]` is the row's values,
    or None when `problems` has that row's type errors."""

    def __init__(self, rows, problems):
        self.rows = rows
        self.problems = problems


def error_list(detail) -> list[dict]:
    """DRF errors of one row ({field: [message]}) as [{"field": ..., "message": ...}]."""
    if isinstance(detail, dict):
        return [{"field": str(field), "message": str(message)}
                for field, messages in detail.items()
                for message in (messages if isinstance(messages, list) else [messages])]
    return [{"field": "non_field_errors", "message": str(message)}
            for message in (detail if isinstance(detail, list) else [detail])]


@extend_schema_field(AccountIn(many=True))
class AccountRows(serializers.Field):
    """The `accounts` list of a bulk request: 1 to 1000 objects. Type errors are collected per
    row in the placement error shape, so they can be listed together with the rule errors."""

    default_error_messages = {
        "not_a_list": "Send `accounts` as a JSON list of account objects, not {kind}.",
        "empty": "Send at least one account.",
        "too_many": "Send at most {max} accounts in one request (this one has {count}); "
                    "split them into several requests.",
        "not_an_object": "Each account must be a JSON object with the placement fields, not {kind}.",
    }

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.child = AccountIn()

    def to_internal_value(self, data):
        if not isinstance(data, list):
            self.fail("not_a_list", kind=json_kind(data))
        if not data:
            self.fail("empty")
        if len(data) > MAX_ACCOUNTS_PER_REQUEST:
            self.fail("too_many", max=MAX_ACCOUNTS_PER_REQUEST, count=len(data))
        rows, problems = [], []
        for number, item in enumerate(data, start=1):
            if not isinstance(item, dict):
                rows.append(None)
                problems.append({"row": number, "errors": [{
                    "field": "non_field_errors", "message": self.error_messages["not_an_object"].format(
                        kind="null" if item is None else json_kind(item))}]})
                continue
            try:
                rows.append(dict(self.child.run_validation(item)))
            except serializers.ValidationError as error:
                rows.append(None)
                problems.append({"row": number, "errors": error_list(error.detail)})
        return CheckedRows(rows, problems)

    def to_representation(self, value):
        # Write-only: responses report counts, never echo the rows back.
        return None


class AccountBulkPlaceIn(RejectUnknownFields, serializers.Serializer):
    """Up to 1000 accounts placed as one placement batch."""

    on_duplicate = serializers.ChoiceField(choices=PlacementBatch.OnDuplicate.values, default="skip",
                                           help_text=ON_DUPLICATE_HELP)
    accounts = AccountRows(help_text=f"1 to {MAX_ACCOUNTS_PER_REQUEST} accounts. All are placed, or none: "
                                     "if any row has errors, every bad row is listed and nothing is saved.")


# --- Listing ------------------------------------------------------------------------------

class AccountListQuery(serializers.Serializer):
    status = serializers.ChoiceField(choices=DebtorAccount.Status.values, required=False)
    age = serializers.ChoiceField(choices=list(selectors.AGE_BUCKETS), required=False,
                                  help_text="Days past due (since the delinquency date, else the due date).")
    balance_min = AmountInput(max_digits=14, decimal_places=2, required=False)
    balance_max = AmountInput(max_digits=14, decimal_places=2, required=False)
    batch = serializers.IntegerField(min_value=1, max_value=MAX_DB_ID, required=False,
                                     help_text="Only accounts of this placement batch.")
    q = serializers.CharField(max_length=100, required=False, allow_blank=True,
                              help_text="Any part of the client reference or the debtor's name, case and accents "
                                        "ignored (\"muller\" finds Müller); a query without 3 letters or digits "
                                        "in a row matches a whole reference.")
    sort = serializers.ChoiceField(choices=list(selectors.SORTS), default="placed",
                                   help_text="placed: newest first; -balance: largest first; balance, "
                                             "reference, debtor: ascending.")
    cursor = serializers.CharField(required=False, max_length=1000,
                                   help_text="From the previous page's `next` link; use it with the same sort.")
    page_size = serializers.IntegerField(min_value=1, max_value=MAX_PAGE_SIZE, default=DEFAULT_PAGE_SIZE)

    default_error_messages = {"bad_cursor": "This cursor is not one this API gave out for this sort; "
                                            "start again without a cursor."}

    def validate(self, attrs):
        cursor = attrs.get("cursor")
        if cursor and not _cursor_fits(cursor, attrs["sort"]):
            raise serializers.ValidationError({"cursor": [self.error_messages["bad_cursor"]]})
        return attrs


def _cursor_fits(cursor: str, sort: str) -> bool:
    """A cursor keyset_page can use without the database choking on its value.

    selectors._decode ignores cursors it cannot read (it would restart at page one) and
    _from_json trusts the value's type; an API client deserves a 400 for both."""
    position = selectors._decode(cursor)
    if position is None:
        return False
    value, last_id = position
    if not 0 <= last_id <= MAX_DB_ID or not isinstance(value, str) or "\x00" in value or len(value) > 200:
        return False
    column = selectors.SORTS[sort][0]
    try:
        parsed = selectors._from_json(column, value)
    except (ValueError, TypeError, ArithmeticError):
        return False
    if column == "balance":
        return parsed.is_finite() and abs(parsed) < MAX_BALANCE
    if column == "placed_at":
        return parsed.tzinfo is not None
    return True


# --- Output ---------------------------------------------------------------------------------

def money(**kwargs):
    return serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=True, **kwargs)


class AccountOut(serializers.Serializer):
    client_reference = serializers.CharField()
    debtor_name = serializers.CharField()
    status = serializers.ChoiceField(choices=DebtorAccount.Status.values)
    status_label = serializers.CharField(source="get_status_display")
    hold_reason = serializers.CharField(help_text="Why the account is on hold (empty otherwise).")
    debt_purpose = serializers.ChoiceField(choices=DebtPurpose.values)
    currency = serializers.CharField()
    principal = money()
    interest = money()
    fees = money()
    paid = money()
    balance = money(help_text="principal + interest + fees - paid")
    invoice_number = serializers.CharField()
    invoice_date = serializers.DateField(allow_null=True)
    due_date = serializers.DateField(allow_null=True)
    delinquency_date = serializers.DateField(allow_null=True)
    last_payment_date = serializers.DateField(allow_null=True)
    placed_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    placement_batch = serializers.IntegerField(source="placement_batch_id", allow_null=True,
                                               help_text="The placement batch that last placed or updated it.")


class AccountPlacedOut(AccountOut):
    result = serializers.ChoiceField(
        choices=["created", "updated", "skipped"],
        help_text="created (201); updated (200, on_duplicate=update); skipped (200: the reference was already "
                  "placed and on_duplicate=skip, so the existing account is returned unchanged).")


class AccountListOut(serializers.Serializer):
    results = AccountOut(many=True)
    next = serializers.URLField(allow_null=True, help_text="The next page, or null on the last page.")


class BulkPlaceOut(serializers.Serializer):
    placement_batch = serializers.IntegerField(source="pk")
    created = serializers.IntegerField(source="created_count")
    updated = serializers.IntegerField(source="updated_count")
    skipped = serializers.IntegerField(source="skipped_count")


# --- Errors (for the schema) ------------------------------------------------------------------

class FieldErrorOut(serializers.Serializer):
    field = serializers.CharField(help_text="The field key (non_field_errors for the row as a whole).")
    message = serializers.CharField()


class RowErrorOut(serializers.Serializer):
    row = serializers.IntegerField(help_text="1 for the first account of the request.")
    errors = FieldErrorOut(many=True)


class RowErrorsOut(serializers.Serializer):
    detail = serializers.CharField()
    errors = RowErrorOut(many=True)


class DetailOut(serializers.Serializer):
    detail = serializers.CharField()


FIELD_ERRORS_SCHEMA = {
    "type": "object",
    "description": "Field key -> messages, e.g. {\"principal\": [\"principal 'abc' is not an amount\"]}.",
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
}
