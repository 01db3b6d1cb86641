"""One row of a bank lockbox or processor file: the payment it reports, or its errors.

No Django here: the intake sandbox's child process imports this module by name to check a file's
rows on their own (amount, date, method, which account); the worker then checks them again with
a `lookup` (payments.batch.services.BatchLookup) that knows the accounts, their balances and the
keys already posted.

Each row's idempotency key comes from the file: its transaction id when the file has one
("txn:<id>"), else the account's reference, the date and the amount ("ref:<ref>|<date>|<amount>"),
with "|2", "|3"... for the second, third... row with the same three in the file, so two genuine
equal payments on one day both post, and posting the same file again posts nothing new.
"""
from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from collections_work.placements.intake import values
from collections_work.placements.intake.fields import Field
from payments.limits import EARLIEST_PAYMENT_DATE
from portal.text import date_text
from portal.text import visible_text_error

FIELDS = [
    Field("transaction_id", "Transaction ID", False,
          ("transaction id", "transaction", "transaction number", "txn", "txn id", "trans id", "trace number",
           "payment id", "item id", "item number", "sequence number", "confirmation number", "deposit item id")),
    Field("client_reference", "Client reference", False,
          ("reference", "client ref", "account", "account number", "account no", "customer number",
           "customer id", "invoice", "invoice number", "remitter reference", "your reference",
           "remittance reference", "debtor reference")),
    Field("account_id", "Portal account ID", False,
          ("account id", "portal account id", "portal id", "debtor account id", "portal account")),
    Field("amount", "Amount", True,
          ("amount", "payment amount", "amount paid", "paid", "remittance amount", "check amount",
           "credit amount", "amount received", "net amount")),
    Field("received_on", "Date received", True,
          ("date", "payment date", "date received", "received", "received date", "receipt date", "deposit date",
           "value date", "posting date", "posted date", "process date", "effective date", "settlement date")),
    Field("method", "Method", False,
          ("method", "payment method", "payment type", "type", "tender", "tender type", "instrument")),
    Field("payment_reference", "Check number / payment reference", False,
          ("check number", "check no", "cheque number", "serial number", "payment reference", "check",
           "cheque", "check serial")),
    Field("note", "Note", False, ("memo", "note", "notes", "remarks", "comment", "description")),
]
FIELDS_BY_KEY = {f.key: f for f in FIELDS}
ONE_OF = ("client_reference", "account_id")

# What a file may write for each method the portal knows (a payment received by the agency).
METHOD_WORDS = {
    "check": "check", "chk": "check", "ck": "check", "cheque": "check", "chq": "check", "lockbox": "check",
    "ach": "ach", "eft": "ach", "bank transfer": "ach", "transfer": "ach", "direct debit": "ach", "echeck": "ach",
    "e-check": "ach",
    "card": "card", "credit card": "card", "debit card": "card", "cc": "card", "visa": "card",
    "mastercard": "card", "amex": "card",
    "wire": "wire", "wire transfer": "wire", "swift": "wire",
    "cash": "cash",
    "money order": "money_order", "mo": "money_order", "money_order": "money_order",
}
METHOD_CHOICES = [("check", "Check"), ("ach", "Bank transfer (ACH)"), ("card", "Card"), ("wire", "Wire transfer"),
                  ("cash", "Cash"), ("money_order", "Money order")]
MAX_AMOUNT = Decimal("999999999999.99")
MAX_LENGTHS = {"transaction_id": 100, "client_reference": 100, "payment_reference": 100, "note": 300}


@dataclass
class RowError:
    row: int
    column: str
    message: str


@dataclass(frozen=True)
class Account:
    """What a row is checked against (from the lookup)."""

    pk: int
    reference: str
    balance: Decimal
    takes_payments: str  # "" when it takes payments, else why not ("paid in full", "closed"...)
    currency: str = "USD"


# The record a valid row becomes (the commit's writer posts it).
# (row_no, key, account_pk, reference, amount, received_on, method, payment_reference, note, already_posted)
KEY, ALREADY = 1, 9


class Validator:
    """Validates the rows of one payment file. `lookup` (None in the sandbox) answers
    `account(reference, account_id) -> Account | None`, `posted(key) -> (account_pk, amount,
    received_on, method) | None`, `today` (the agency's date), and collects what the preview says
    (`counted(amount, already)`)."""

    def __init__(self, headers: list[str], mapping: dict[str, int], options: dict, lookup=None):
        self.columns = {field: (index, headers[index] if index < len(headers) else FIELDS_BY_KEY[field].label)
                        for field, index in mapping.items() if field in FIELDS_BY_KEY}
        self.amount_format = options.get("amount_format", "dot")
        self.date_format = options.get("date_format", "%m/%d/%Y")
        self.date_system = options.get("date_system", "")  # a workbook's: numbers in the date column are Excel dates
        self.default_method = options.get("default_method", "check")
        self.lookup = lookup
        self._numeric_reference = False  # this row's reference cell is a workbook number
        self._occurrences: Counter = Counter()
        self._txn_rows: dict[str, int] = {}  # transaction id -> the row it was first met in
        self._spent: dict[int, tuple[Decimal, list[int]]] = {}  # account -> (this file's new rows' total, rows)

    def column_name(self, field: str) -> str:
        return self.columns[field][1] if field in self.columns else FIELDS_BY_KEY[field].label

    def record_key(self, record: tuple) -> str:
        return record[KEY]

    def duplicate_error(self, row_no: int, record: tuple, first_row: int) -> RowError:
        txn = record[KEY].removeprefix("txn:")
        return RowError(row_no, self.column_name("transaction_id"),
                        f"transaction ID '{txn}' appears again (first in row {first_row})")

    def validate(self, row_no: int, cells: list) -> tuple[tuple | None, list[RowError]]:
        """(record, []) for a valid row, else (None, errors naming the column)."""
        raw = {field: cells[index] for field, (index, _name) in self.columns.items() if index < len(cells)}
        self._numeric_reference = isinstance(raw.get("client_reference"), (int, float)) and not isinstance(
            raw.get("client_reference"), bool)
        text = {field: values.cell_text(value) for field, value in raw.items()}
        errors: list[RowError] = []

        def error(field, message):
            errors.append(RowError(row_no, self.column_name(field), message))

        for field, limit in MAX_LENGTHS.items():
            if len(text.get(field, "")) > limit:
                error(field, f"{self.column_name(field)} is longer than {limit} characters")
        for field in ("transaction_id", "client_reference"):
            problem = visible_text_error(self.column_name(field), text.get(field, ""))
            if problem:
                error(field, problem)
        reference, account_text = text.get("client_reference", ""), text.get("account_id", "")
        account_id = None
        if not reference and not account_text:
            field = "client_reference" if "client_reference" in self.columns else "account_id"
            error(field, "the account is missing: give its client reference or portal account ID")
        if account_text:
            if account_text.isascii() and account_text.isdigit() and len(account_text) < 19:
                account_id = int(account_text)
            else:
                error("account_id", f"{self.column_name('account_id')} '{account_text}' is not an account ID "
                                    "(a number)")
        amount = self._amount(raw, text, error)
        received_on = self._date(raw, text, error)
        method = self._method(text, error)
        if errors:
            return None, errors
        txn = text.get("transaction_id", "")
        if txn:
            key = f"txn:{txn}"
            # Caught here, before the books are asked, so a repeat is neither counted nor charged to the balance.
            first_row = self._txn_rows.setdefault(txn, row_no)
            if first_row != row_no:
                return None, [self.duplicate_error(row_no, (row_no, key), first_row)]
        else:
            base = f"ref:{reference or '#' + str(account_id)}|{received_on.isoformat()}|{amount}"
            self._occurrences[base] += 1
            nth = self._occurrences[base]
            key = base if nth == 1 else f"{base}|{nth}"
        record = [row_no, key, None, reference, amount, received_on, method, text.get("payment_reference", ""),
                  text.get("note", ""), False]
        if self.lookup is not None:
            self._check_against_books(row_no, record, account_id, error, values.amount_marker(raw.get("amount")),
                                      text.get("amount", ""))
            if errors:
                return None, errors
        return tuple(record), []

    def _amount(self, raw, text, error) -> Decimal | None:
        if not text.get("amount"):
            error("amount", "Amount is missing")
            return None
        name = self.column_name("amount")
        try:
            # Any currency the portal knows: the row's account, found later, says which it must be.
            amount = values.parse_amount(raw["amount"], self.amount_format, currency=None)
        except ValueError as problem:
            error("amount", f"{name} '{text['amount']}' {problem}")
            return None
        if _sub_cent_number(raw["amount"]):  # money received is whole cents; text says so in parse_amount
            error("amount", f"{name} '{text['amount']}' is not an amount: more than two decimals (cents)")
            return None
        if amount <= 0:
            error("amount", f"{name} '{text['amount']}' is not more than zero (post reversals on the payment itself)")
        elif amount > MAX_AMOUNT:
            error("amount", f"{name} '{text['amount']}' is more than 999,999,999,999.99")
        return amount

    def _date(self, raw, text, error) -> date | None:
        if not text.get("received_on"):
            error("received_on", "Date received is missing")
            return None
        name = self.column_name("received_on")
        try:
            received_on = values.parse_date(raw["received_on"], self.date_format, self.date_system)
        except ValueError as problem:
            error("received_on", f"{name} '{text['received_on']}' {problem}")
            return None
        today = self.lookup.today if self.lookup is not None else None
        if today is not None and received_on > today:
            error("received_on", f"{name} '{text['received_on']}' is in the future")
        elif received_on < EARLIEST_PAYMENT_DATE:
            error("received_on", f"{name} '{text['received_on']}' is before {EARLIEST_PAYMENT_DATE:%m/%d/%Y}: "
                                 "check the date")
        return received_on

    def _method(self, text, error) -> str:
        given = text.get("method", "")
        if not given:
            return self.default_method
        method = METHOD_WORDS.get(" ".join(given.lower().replace("_", " ").split()))
        if method is None:
            error("method", f"{self.column_name('method')} '{given}' is not one of check, ACH, card, wire, cash "
                            "or money order")
        return method or self.default_method

    def _check_against_books(self, row_no, record, account_id, error, marker="", amount_text="") -> None:
        """The row's account (of this client), the currency the amount names (`marker`, "" when
        none) against the account's, a key already posted, and the balance left after the
        earlier rows of this file."""
        reference, amount = record[3], record[4]
        account = self.lookup.account(reference or None, account_id)
        where = "client_reference" if reference else "account_id"
        if account is None:
            hint = ""
            if reference and self._numeric_reference:  # a workbook's number cell drops leading zeros (00123 -> 123)
                hint = " (the workbook holds it as a number: if the reference has leading zeros, format that column as Text)"
            error(where, f"no account of this client has {'client reference' if reference else 'portal account ID'} "
                         f"'{reference or account_id}'{hint}")
            return
        if reference and account_id is not None and account.pk != account_id:
            error("account_id", f"portal account ID {account_id} is not the account with client reference "
                                f"'{reference}' (that is {account.pk})")
            return
        record[2], record[3] = account.pk, account.reference
        problem = values.currency_problem(marker, account.currency) if marker else None
        if problem is not None:
            error("amount", f"{self.column_name('amount')} '{amount_text}' {problem}, but account "
                            f"{account.reference} is in {account.currency} (payments are never converted)")
            return
        earlier = self.lookup.posted(record[KEY])
        if earlier is not None:
            if earlier != (account.pk, amount, record[5], record[6]):
                what = (f"transaction ID '{record[KEY].removeprefix('txn:')}'" if record[KEY].startswith("txn:")
                        else "this reference, date and amount")
                error("transaction_id" if record[KEY].startswith("txn:") else "amount",
                      f"{what} was already posted for a different payment ({earlier[1]:,.2f} on "
                      f"{date_text(earlier[2])}); nothing would be posted")
                return
            record[ALREADY] = True
            self.lookup.counted(amount, already=True)
            return
        if account.takes_payments:
            error(where, f"account {account.reference} is {account.takes_payments}: it takes no payment")
            return
        spent, rows = self._spent.get(account.pk, (Decimal("0.00"), []))
        left = account.balance - spent
        if amount > left:
            after = ""
            if rows:
                listed = ", ".join(map(str, rows[:-1])) + " and " + str(rows[-1]) if len(rows) > 1 else str(rows[0])
                after = f" after row{'s' if len(rows) > 1 else ''} {listed} of this file"
            error("amount", f"{self.column_name('amount')} {amount:,.2f} is more than the balance of account "
                            f"{account.reference}{after}: {left:,.2f}")
            return
        self._spent[account.pk] = (spent + amount, rows + [row_no])
        self.lookup.counted(amount, already=False)


def _sub_cent_number(value) -> bool:
    """Whether a number cell (XLSX) holds fractions of a cent, beyond binary floating-point noise
    (0.1 + 0.2 is 0.30; 12.345 is not an amount of money received)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return False
    exact = Decimal(str(round(float(value), 9)))
    return exact != exact.quantize(values.CENTS)
