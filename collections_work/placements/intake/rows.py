"""Turning one placement row into a record for the staging table, or into row errors."""
import hashlib
import re
import zoneinfo
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from collections_work.placements.intake import values, zones
from collections_work.placements.intake.fields import FIELDS_BY_KEY, REQUIRED_FIELDS, normalise_header
from portal.text import hidden_character, visible_text_error

ZERO = Decimal("0.00")
TIME_ZONES = frozenset(zoneinfo.available_timezones())

# The order of a record, and of the staging table's columns.
STAGE_COLUMNS = [
    "row_no", "client_reference", "debtor_key", "debtor_kind", "debtor_name", "tax_id_last4", "time_zone",
    "email", "phone", "address", "debt_purpose", "principal", "interest", "fees", "paid", "balance",
    "invoice_number", "invoice_date", "due_date", "delinquency_date", "last_payment_date",
    "co_name", "co_key", "co_email", "co_phone", "g_name", "g_key", "g_email", "g_phone",
    # A row that is another party of an account placed by an earlier row ("co_debtor", "guarantor"),
    # else ""; where the debtor's time zone came from; the phone's own zone (for its contact).
    "party_role", "tz_source", "phone_tz",
]
PARTY_ROLES = {"co_debtor": "co_debtor", "co debtor": "co_debtor", "codebtor": "co_debtor", "co-debtor": "co_debtor",
               "co borrower": "co_debtor", "co-borrower": "co_debtor", "coborrower": "co_debtor", "joint": "co_debtor",
               "co signer": "co_debtor", "co-signer": "co_debtor", "cosigner": "co_debtor", "spouse": "co_debtor",
               "secondary": "co_debtor", "co-applicant": "co_debtor", "guarantor": "guarantor",
               "personal guarantor": "guarantor", "guarantee": "guarantor", "surety": "guarantor",
               "primary": "primary", "debtor": "primary", "borrower": "primary", "main": "primary",
               "applicant": "primary", "account holder": "primary"}
_SSN = re.compile(r"^\d{3}-\d{2}-\d{4}$", re.ASCII)
MAX_LENGTHS = {"client_reference": 100, "debtor_name": 200, "invoice_number": 200, "co_debtor_name": 200,
               "guarantor_name": 200, "address_line1": 200, "address_line2": 200, "city": 100, "region": 100,
               "postal_code": 20, "country": 60}
# Names and references may not hold control or invisible characters (portal/text.py).
VISIBLE_FIELDS = ("client_reference", "debtor_name", "invoice_number", "co_debtor_name", "guarantor_name")
MAX_AMOUNT = Decimal("999999999999.99")  # the money columns hold 14 digits, 2 of them cents
MAX_ADDRESS = 400  # Contact.value: the address lines joined
# Fields that identify rather than count: their cell's text is kept as the spreadsheet shows it,
# and a value whose digits a spreadsheet has lost is refused (values.identifier_error).
IDENTIFIER_FIELDS = ("client_reference", "postal_code", "phone", "tax_id", "invoice_number",
                     "co_debtor_phone", "guarantor_phone")


@dataclass
class RowError:
    row: int
    column: str
    message: str


def duplicate_reference_error(row: int, reference: str, first_row: int, column: str = "client_reference") -> RowError:
    """The error for a client reference met again in the same placement (file, form or API)."""
    return RowError(row, column, f"client reference '{reference}' appears again (first in row {first_row})")


@dataclass
class IntakeOptions:
    amount_format: str = "dot"
    date_format: str = "%m/%d/%Y"
    default_debt_purpose: str = "unknown"
    currency: str = "USD"  # the placement's one currency (ISO 4217); an amount naming another is an error
    date_system: str = ""  # a workbook's ("1900"/"1904"): numbers in date columns are Excel serial dates
    # Rows with the same client reference are the parties of one account: the first row is the
    # account and its debtor, the later ones its co-debtors (or what their role column says).
    parties_by_row: bool = False

    @classmethod
    def from_dict(cls, data: dict) -> "IntakeOptions":
        return cls(**{k: v for k, v in (data or {}).items() if k in cls.__dataclass_fields__})


def debtor_key(name: str, tax4: str, email: str, *, phone: str = "", address: str = "", client_debtor_id: str = "",
               reference: str = "") -> str:
    """Identifies one debtor among a client's accounts: rows with the same key are one debtor.

    The client's own debtor ID, when the row has one, decides alone. Otherwise the name must come
    with something that tells people apart (email, phone or address), and then every one of name,
    tax ID last four, email, phone and address must agree: two "Richard Stevens" whose SSNs both
    end 2347 but who live in different cities are two debtors. A row with only a name (and last
    four) is matched to no other: its debtor is its account's own (`reference`)."""
    if client_debtor_id:
        basis = "id|" + " ".join(client_debtor_id.lower().split())
    else:
        normal = " ".join(name.lower().split())
        if email or phone or address:
            place = " ".join(address.lower().translate(_PUNCTUATION).split())
            basis = f"{normal}|{tax4}|{email}|{phone}|{place}"
        else:
            basis = f"{normal}|{tax4}|ref|{reference}"
    return hashlib.md5(basis.encode(), usedforsecurity=False).hexdigest()


_PUNCTUATION = str.maketrans({mark: " " for mark in ",.;:#/\\-'\"()"})  # "12 Oak St." is "12, Oak St"


class RowValidator:
    """Validates rows of one file. `headers` name the columns in messages ("balance '12,3x' ...")."""

    def __init__(self, headers: list[str], mapping: dict[str, int], options: IntakeOptions):
        self.options = options
        self.columns = {field: (index, headers[index] if index < len(headers) else FIELDS_BY_KEY[field].label)
                        for field, index in mapping.items()}
        # For the fast path: mapped fields in column order, the length limits that can apply, parsers.
        self._fields = tuple(sorted(mapping.items(), key=lambda item: item[1]))
        self._limits = tuple((field, limit) for field, limit in MAX_LENGTHS.items() if field in mapping)
        self._visible = tuple(field for field in VISIBLE_FIELDS if field in mapping)
        self._amount = values.plain_amount_parser(options.amount_format, options.currency)
        self._identifiers = tuple(field for field in IDENTIFIER_FIELDS if field in mapping)
        self._date = values.fixed_width_date_parser(options.date_format)
        tax_header = normalise_header(self.columns["tax_id"][1]) if "tax_id" in mapping else ""
        self._ssn_column = "ssn" in tax_header.split() or "social security" in tax_header
        self._derive_zone = any(field in mapping for field in ("time_zone", "postal_code", "region", "phone"))
        self._zones: dict[tuple, tuple[str, str]] = {}
        self._phone_zones: dict[str, str] = {}

    def validate(self, row_no: int, cells: list) -> tuple[tuple | None, list[RowError]]:
        """(record, []) for a valid row, else (None, errors)."""
        record = self._fast_record(row_no, cells)
        if record is not None:
            return record, []
        return self._validate(row_no, cells)

    def _fast_record(self, row_no: int, cells: list) -> tuple | None:
        """The record of a row of text cells that is valid by the usual shapes of values, without
        the per-field dicts, closures, strptime and regular expressions of `_validate`; None for any
        row it is not sure of (errors, XLSX numbers and dates, unusual values), which `_validate`
        then decides with its messages. Both give the same record for every row this one accepts."""
        width = len(cells)
        text = {}
        for field, index in self._fields:
            if index < width:
                value = cells[index]
                if value.__class__ is not str:
                    return None
                text[field] = value.strip()
        get = text.get
        reference, name, principal = get("client_reference"), get("debtor_name"), get("principal")
        if not reference or not name or not principal:
            return None
        for field, limit in self._limits:
            if len(get(field, "")) > limit:
                return None
        for field in self._visible:
            if hidden_character(get(field, "")):
                return None
        for field in self._identifiers:
            if values.identifier_error(None, get(field, ""), postal_code=field == "postal_code",
                                       country=get("country", ""), region=get("region", "")):
                return None
        amounts = []
        for field in ("principal", "interest", "fees", "paid"):
            cell = get(field)
            amount = self._amount(cell) if cell else ZERO
            if amount is None:
                return None
            amounts.append(amount)
        balance = amounts[0] + amounts[1] + amounts[2] - amounts[3]
        if balance <= 0 or balance + amounts[3] > MAX_AMOUNT:  # each amount is >= 0 here
            return None
        dates = []
        for field in ("invoice_date", "due_date", "delinquency_date", "last_payment_date"):
            cell = get(field)
            if not cell:
                dates.append(None)
                continue
            if len(cell) >= 10 and cell[4] == "-":
                if len(cell) > 10:  # a time after it, or junk: parse_date decides
                    return None
                try:
                    dates.append(date.fromisoformat(cell[:10]))
                except ValueError:
                    return None
                continue
            parsed = self._date(cell) if self._date is not None else None
            if parsed is None:
                return None
            dates.append(parsed)
        try:
            email = values.parse_email(get("email")) if get("email") else ""
            phone = values.parse_phone(get("phone")) if get("phone") else ""
            tax4 = values.tax_id_last4(get("tax_id")) if get("tax_id") else ""
        except ValueError:
            return None
        purpose = get("debt_purpose")
        purpose = values.PURPOSES.get(purpose.lower()) if purpose else self.options.default_debt_purpose
        kind = get("debtor_kind")
        kind = values.KINDS.get(kind.lower()) if kind else ""
        time_zone = get("time_zone", "")
        if purpose is None or kind is None or (time_zone and time_zone not in TIME_ZONES):
            return None
        parties = []
        for prefix in ("co_debtor", "guarantor"):
            party_name, party_email = get(prefix + "_name", ""), get(prefix + "_email", "")
            party_phone = get(prefix + "_phone", "")
            if not party_name:
                if party_email or party_phone:
                    return None
                parties += ("", "", "", "")
                continue
            try:
                party_email = values.parse_email(party_email) if party_email else ""
                party_phone = values.parse_phone(party_phone) if party_phone else ""
            except ValueError:
                return None
            parties += (party_name, debtor_key(party_name, "", party_email, phone=party_phone, reference=reference),
                        party_email, party_phone)
        address = self._address(text)
        key, kind, time_zone, tz_source, phone_tz = self._debtor(text, tax4, email, phone, address, kind, purpose)
        return (
            row_no, reference, key, kind, name, tax4, time_zone, email, phone,
            address, purpose, *amounts, balance, get("invoice_number", ""),
            dates[0], dates[1], dates[2] or dates[1], dates[3], *parties, "", tz_source, phone_tz,
        )

    def _debtor(self, text: dict, tax4: str, email: str, phone: str, address: str, kind: str,
                purpose: str) -> tuple[str, str, str, str, str]:
        """(debtor key, kind, time zone, where the zone came from, the phone's zone) of a row's debtor.
        With no type given, a debtor with an SSN, or owing a consumer debt, is a person."""
        if not kind:
            tax_id = text.get("tax_id", "")
            person = purpose == "consumer" or (tax4 and (self._ssn_column or _SSN.match(tax_id)))
            kind = "person" if person else "business"
        key = debtor_key(text["debtor_name"], tax4, email, phone=phone, address=address,
                         client_debtor_id=text.get("client_debtor_id", ""), reference=text["client_reference"])
        if not self._derive_zone:
            return key, kind, "", "", ""
        return (key, kind, *self._zone(text, phone))

    def _zone(self, text: dict, phone: str) -> tuple[str, str, str]:
        """zones.derive_zone, with the places and phone areas a file repeats derived once each."""
        phone_zone = ""
        if phone:
            phone_zone = self._phone_zones.get(phone[:6])
            if phone_zone is None:
                phone_zone = self._phone_zones[phone[:6]] = zones.phone_zone_of(phone)
        given, postal_code, state = text.get("time_zone", ""), text.get("postal_code", ""), text.get("region", "")
        place = (given, postal_code[:5], state, text.get("country", ""), zones.foreign_phone(phone))
        found = self._zones.get(place)
        if found is None:
            if len(self._zones) > 200_000:
                self._zones.clear()
            found = self._zones[place] = zones.place_zone(*place)
        if found[0] or not phone_zone:
            return found[0], found[1], phone_zone
        return phone_zone, zones.phone_source(phone), phone_zone

    def _validate(self, row_no: int, cells: list) -> tuple[tuple | None, list[RowError]]:
        raw = self._raw(cells)
        errors: list[RowError] = []
        text = {field: values.cell_text(value) for field, value in raw.items()}
        for field in REQUIRED_FIELDS:
            if not text.get(field):
                errors.append(RowError(row_no, self.column_name(field), f"{FIELDS_BY_KEY[field].label} is missing"))
        for field, limit in MAX_LENGTHS.items():
            if len(text.get(field, "")) > limit:
                errors.append(RowError(row_no, self.column_name(field), f"{self.column_name(field)} is longer than {limit} characters"))
        for field in VISIBLE_FIELDS:
            message = visible_text_error(self.column_name(field), text.get(field, ""))
            if message:
                errors.append(RowError(row_no, self.column_name(field), message))

        for field in IDENTIFIER_FIELDS:
            if text.get(field):
                message = values.identifier_error(raw.get(field), text[field], postal_code=field == "postal_code",
                                                  country=text.get("country", ""), region=text.get("region", ""))
                if message:
                    errors.append(RowError(row_no, self.column_name(field),
                                           f"{self.column_name(field)} '{text[field]}' {message}"))

        def parsed(field, parser, *args, default=None):
            if not text.get(field):
                return default
            try:
                return parser(raw[field] if parser in (values.parse_amount, values.parse_date) else text[field], *args)
            except ValueError as error:
                errors.append(RowError(row_no, self.column_name(field), f"{self.column_name(field)} '{text[field]}' {error}"))
                return default

        amount_format, date_format = self.options.amount_format, self.options.date_format
        currency, date_system = self.options.currency, self.options.date_system
        amounts = {f: parsed(f, values.parse_amount, amount_format, currency, default=ZERO)
                   for f in ("principal", "interest", "fees", "paid")}
        for field, amount in amounts.items():
            if amount < 0:
                errors.append(RowError(row_no, self.column_name(field), f"{self.column_name(field)} '{text[field]}' is negative"))
            elif amount > MAX_AMOUNT:
                errors.append(RowError(row_no, self.column_name(field),
                                       f"{self.column_name(field)} '{text[field]}' is more than 999,999,999,999.99"))
        balance = amounts["principal"] + amounts["interest"] + amounts["fees"] - amounts["paid"]
        if not errors and balance <= 0:
            errors.append(RowError(row_no, self.column_name("principal"), "nothing is owed: the balance after payments is zero or less"))
        if not errors and balance + amounts["paid"] > MAX_AMOUNT:
            errors.append(RowError(row_no, self.column_name("principal"),
                                   "principal + interest + fees is more than 999,999,999,999.99"))
        if len(self._address(text)) > MAX_ADDRESS:
            errors.append(RowError(row_no, self.column_name("address_line1"),
                                   f"the address (all its lines together) is longer than {MAX_ADDRESS} characters"))
        dates = {f: parsed(f, values.parse_date, date_format, date_system)
                 for f in ("invoice_date", "due_date", "delinquency_date", "last_payment_date")}
        email = parsed("email", values.parse_email, default="")
        phone = parsed("phone", values.parse_phone, default="")
        tax4 = parsed("tax_id", values.tax_id_last4, default="")
        purpose = parsed("debt_purpose", values.parse_choice, values.PURPOSES, "commercial, consumer or unknown",
                         default=self.options.default_debt_purpose)
        kind = parsed("debtor_kind", values.parse_choice, values.KINDS, "business or person", default="")
        time_zone = text.get("time_zone", "")
        if time_zone and time_zone not in TIME_ZONES:
            errors.append(RowError(row_no, self.column_name("time_zone"),
                                   f"{self.column_name('time_zone')} '{time_zone}' is not a time zone like America/Chicago"))
        parties = [self._party(row_no, prefix, text, errors) for prefix in ("co_debtor", "guarantor")]
        if errors:
            return None, errors
        name, address = text["debtor_name"], self._address(text)
        key, kind, time_zone, tz_source, phone_tz = self._debtor(text, tax4, email, phone, address, kind, purpose)
        record = (
            row_no, text["client_reference"], key, kind, name, tax4, time_zone,
            email, phone, address, purpose,
            amounts["principal"], amounts["interest"], amounts["fees"], amounts["paid"], balance,
            text.get("invoice_number", ""), dates["invoice_date"], dates["due_date"],
            dates["delinquency_date"] or dates["due_date"], dates["last_payment_date"],
            *parties[0], *parties[1], "", tz_source, phone_tz,
        )
        return record, []

    def reference(self, cells: list) -> str:
        """The row's client reference as text ("" when it has none)."""
        index = self.columns["client_reference"][0]
        return values.cell_text(cells[index]) if index < len(cells) else ""

    def party_role(self, cells: list) -> str:
        """What the row's role column says ("co_debtor", "guarantor", "primary"), "" when empty
        or not mapped, "?" when not understood."""
        if "party_role" not in self.columns:
            return ""
        index = self.columns["party_role"][0]
        text = values.cell_text(cells[index]).lower().replace("_", " ") if index < len(cells) else ""
        return PARTY_ROLES.get(" ".join(text.split()), "?") if text else ""

    def validate_party(self, row_no: int, cells: list, first_row: int) -> tuple[tuple | None, list[RowError]]:
        """A later row of an account placed by `first_row` (rows with the same reference are the
        parties of one account): the party's name, type, tax ID, contacts and address, attached
        as a co-debtor, or as a guarantor when its role column says so. Its amounts and dates are
        the account's (first row's), so they are not read again. (record, []) or (None, errors)."""
        text = {field: values.cell_text(value) for field, value in self._raw(cells).items()}
        errors: list[RowError] = []
        role = self.party_role(cells) or "co_debtor"
        if role == "?":
            errors.append(RowError(row_no, self.column_name("party_role"),
                                   f"{self.column_name('party_role')} '{text.get('party_role', '')}' is not a party "
                                   "role (co-debtor, guarantor or primary)"))
        elif role == "primary":
            errors.append(RowError(row_no, self.column_name("party_role"),
                                   f"a second primary debtor for reference '{text['client_reference']}' (the first "
                                   f"is in row {first_row}); mark this row co-debtor or guarantor"))
        name = text.get("debtor_name", "")
        if not name:
            errors.append(RowError(row_no, self.column_name("debtor_name"), "Debtor name is missing"))
        elif len(name) > MAX_LENGTHS["debtor_name"] or visible_text_error(self.column_name("debtor_name"), name):
            errors.append(RowError(row_no, self.column_name("debtor_name"),
                                   visible_text_error(self.column_name("debtor_name"), name)
                                   or f"{self.column_name('debtor_name')} is longer than 200 characters"))

        def parsed(field, parser, *args):
            if not text.get(field):
                return ""
            try:
                return parser(text[field], *args)
            except ValueError as error:
                errors.append(RowError(row_no, self.column_name(field), f"{self.column_name(field)} '{text[field]}' {error}"))
                return ""

        email, phone = parsed("email", values.parse_email), parsed("phone", values.parse_phone)
        tax4 = parsed("tax_id", values.tax_id_last4)
        kind = parsed("debtor_kind", values.parse_choice, values.KINDS, "business or person") or "person"
        address = self._address(text)
        if len(address) > MAX_ADDRESS:
            errors.append(RowError(row_no, self.column_name("address_line1"),
                                   f"the address (all its lines together) is longer than {MAX_ADDRESS} characters"))
        if errors:
            return None, errors
        key = debtor_key(name, tax4, email, phone=phone, address=address, reference=text["client_reference"])
        zone, source, phone_zone = ("", "", "")
        if self._derive_zone:
            zone, source, phone_zone = zones.derive_zone(
                given=text.get("time_zone", "") if text.get("time_zone", "") in TIME_ZONES else "",
                postal_code=text.get("postal_code", ""), state=text.get("region", ""),
                country=text.get("country", ""), phone=phone)
        return (row_no, text["client_reference"], key, kind, name, tax4, zone, email, phone, address, "unknown",
                ZERO, ZERO, ZERO, ZERO, ZERO, "", None, None, None, None, *([""] * 8), role, source, phone_zone), []

    def _raw(self, cells: list) -> dict:
        width = len(cells)
        return {field: cells[index] for field, (index, _header) in self.columns.items() if index < width}

    def column_name(self, field: str) -> str:
        """The file's header for `field` (its label when the file does not map it), for messages."""
        return self.columns[field][1] if field in self.columns else FIELDS_BY_KEY[field].label

    def _party(self, row_no, prefix, text, errors) -> tuple:
        name = text.get(f"{prefix}_name", "")
        email = text.get(f"{prefix}_email", "")
        phone = text.get(f"{prefix}_phone", "")
        if not name:
            if email or phone:
                errors.append(RowError(row_no, self.column_name(f"{prefix}_name"),
                                       f"{FIELDS_BY_KEY[prefix + '_name'].label} is missing but contact details are given"))
            return "", "", "", ""
        try:
            email = values.parse_email(email) if email else ""
            phone = values.parse_phone(phone) if phone else ""
        except ValueError as error:
            errors.append(RowError(row_no, self.column_name(f"{prefix}_name"), f"{FIELDS_BY_KEY[prefix + '_name'].label}'s contact {error}"))
        return name, debtor_key(name, "", email, phone=phone, reference=text.get("client_reference", "")), email, phone

    @staticmethod
    def _address(text: dict) -> str:
        locality = " ".join(p for p in (text.get("region", ""), text.get("postal_code", "")) if p)
        parts = [text.get("address_line1", ""), text.get("address_line2", ""), text.get("city", ""), locality,
                 text.get("country", "")]
        return ", ".join(p for p in parts if p)
