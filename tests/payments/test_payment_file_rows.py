"""One row of a payment file on its own (no database): the messages name the column, the keys
come from the file, and the books (a stand-in lookup) decide the account and the balance."""
from datetime import date, datetime
from decimal import Decimal

from collections_work.placements.intake import kinds
from payments.batch.rows import FIELDS, Account, Validator

HEADERS = ["Txn", "Ref", "Portal ID", "Amt", "Date", "Type", "Check"]
MAPPING = {"transaction_id": 0, "client_reference": 1, "account_id": 2, "amount": 3, "received_on": 4,
           "method": 5, "payment_reference": 6}


class Books:
    """Two accounts: R-1 (id 11) owes 100.00, R-2 (id 12) is paid in full; key txn:OLD posted."""

    today = date(2026, 12, 1)

    def __init__(self):
        self.counts = []
        self.accounts = {"R-1": Account(11, "R-1", Decimal("100.00"), ""),
                         "R-2": Account(12, "R-2", Decimal("0.00"), "paid in full")}

    def account(self, reference, account_id):
        if reference:
            return self.accounts.get(reference)
        return next((a for a in self.accounts.values() if a.pk == account_id), None)

    def posted(self, key):
        return (11, Decimal("5.00"), date(2026, 11, 2), "check") if key == "txn:OLD" else None

    def counted(self, amount, *, already):
        self.counts.append((amount, already))


def validator(lookup=None, **options):
    return Validator(HEADERS, MAPPING, {"amount_format": "dot", "date_format": "%m/%d/%Y", **options}, lookup=lookup)


def errors_of(result):
    record, errors = result
    assert record is None
    return [(e.column, e.message) for e in errors]


def test_the_columns_of_a_lockbox_file_are_recognised_by_their_names():
    headers = ["Transaction ID", "Account Number", "Payment Amount", "Deposit Date", "Payment Type", "Check No", "Memo"]
    assert kinds.guess_mapping(headers, FIELDS) == {
        "transaction_id": 0, "client_reference": 1, "amount": 2, "received_on": 3, "method": 4,
        "payment_reference": 5, "note": 6}


def test_each_bad_cell_is_named_by_its_column():
    rows = validator()
    assert errors_of(rows.validate(2, ["T1", "", "", "12.3x", "31/31/2026", "bitcoin", ""])) == [
        ("Ref", "the account is missing: give its client reference or portal account ID"),
        ("Amt", "Amt '12.3x' is not an amount"),
        ("Date", "Date '31/31/2026' is not a date (expected YYYY-MM-DD or MM/DD/YYYY)"),
        ("Type", "Type 'bitcoin' is not one of check, ACH, card, wire, cash or money order"),
    ]
    assert errors_of(rows.validate(3, ["T2", "", "12a", "-5.00", "2026-11-30", "", ""])) == [
        ("Portal ID", "Portal ID '12a' is not an account ID (a number)"),
        ("Amt", "Amt '-5.00' is not more than zero (post reversals on the payment itself)"),
    ]


def test_keys_come_from_the_transaction_id_else_reference_date_and_amount():
    rows = validator()
    record, _ = rows.validate(2, ["T-9", "R-1", "", "10", "11/30/2026", "ACH", "55"])
    assert record[1] == "txn:T-9" and record[4] == Decimal("10.00") and record[6] == "ach"
    first, _ = rows.validate(3, ["", "R-1", "", "10.00", datetime(2026, 11, 30), "", ""])
    second, _ = rows.validate(4, ["", "R-1", "", 10, "2026-11-30", "", ""])
    assert first[1] == "ref:R-1|2026-11-30|10.00" and second[1] == "ref:R-1|2026-11-30|10.00|2"
    assert first[6] == "check"  # the default method
    assert rows.duplicate_error(5, record, 2).message == "transaction ID 'T-9' appears again (first in row 2)"


def test_the_books_decide_the_account_the_balance_and_what_is_already_posted():
    books = Books()
    rows = validator(books)
    assert errors_of(rows.validate(2, ["A", "NOPE", "", "1.00", "11/30/2026", "", ""])) == [
        ("Ref", "no account of this client has client reference 'NOPE'")]
    assert errors_of(rows.validate(3, ["B", "R-1", "12", "1.00", "11/30/2026", "", ""])) == [
        ("Portal ID", "portal account ID 12 is not the account with client reference 'R-1' (that is 11)")]
    assert errors_of(rows.validate(4, ["C", "R-2", "", "1.00", "11/30/2026", "", ""])) == [
        ("Ref", "account R-2 is paid in full: it takes no payment")]
    assert errors_of(rows.validate(5, ["D", "R-1", "", "1.00", "12/02/2026", "", ""])) == [
        ("Date", "Date '12/02/2026' is in the future")]
    ok, _ = rows.validate(6, ["E", "", "11", "60.00", "11/30/2026", "", ""])
    assert ok[2] == 11 and ok[3] == "R-1"
    assert errors_of(rows.validate(7, ["F", "R-1", "", "50.00", "11/30/2026", "", ""])) == [
        ("Amt", "Amt 50.00 is more than the balance of account R-1 after row 6 of this file: 40.00")]
    again, _ = rows.validate(8, ["OLD", "R-1", "", "5.00", "11/02/2026", "check", ""])
    assert again[9] is True  # already posted: counted, not posted again, and takes no balance
    another_file = validator(Books())
    assert errors_of(another_file.validate(2, ["OLD", "R-1", "", "6.00", "11/02/2026", "check", ""]))[0][1].startswith(
        "transaction ID 'OLD' was already posted for a different payment (5.00 on Nov 2, 2026)")
    assert errors_of(rows.validate(10, ["E", "R-1", "", "1.00", "11/30/2026", "", ""])) == [
        ("Txn", "transaction ID 'E' appears again (first in row 6)")]
    assert books.counts == [(Decimal("60.00"), False), (Decimal("5.00"), True)]  # the repeat counted nothing


def test_an_excel_serial_date_in_a_workbook_is_the_day_it_stands_for():
    """A date column in General format holds Excel's day numbers: 46356 is 2026-11-30."""
    record, errors = validator(Books(), date_system="1900").validate(2, ["", "R-1", "", "10.00", 46356, "", ""])
    assert errors == [] and record[5] == date(2026, 11, 30)
    mac = validator(Books(), date_system="1904").validate(3, ["", "R-1", "", "10.00", 46356 - 1462, "", ""])
    assert mac[0][5] == date(2026, 11, 30)
    # Outside a workbook a bare number is no date.
    assert errors_of(validator(Books()).validate(4, ["", "R-1", "", "10.00", "46357", "", ""])) == [
        ("Date", "Date '46357' is not a date (expected YYYY-MM-DD or MM/DD/YYYY)")]


def test_fractions_of_a_cent_are_refused_as_text_and_as_a_workbook_number():
    books = Books()
    assert errors_of(validator(books).validate(2, ["", "R-1", "", "12.345", "11/30/2026", "", ""])) == [
        ("Amt", "Amt '12.345' is not an amount: more than two decimals (cents); if it means thousands, "
                "choose the 1.234,56 amount format")]
    assert errors_of(validator(books).validate(3, ["", "R-1", "", 12.345, "11/30/2026", "", ""])) == [
        ("Amt", "Amt '12.345' is not an amount: more than two decimals (cents)")]
    record, errors = validator(books).validate(4, ["", "R-1", "", 0.1 + 0.2, "11/30/2026", "", ""])
    assert errors == [] and record[4] == Decimal("0.30")  # binary noise, not a fraction of a cent


class EuroBooks(Books):
    def __init__(self):
        super().__init__()
        self.accounts["EU-1"] = Account(21, "EU-1", Decimal("500.00"), "", currency="EUR")


def test_an_amount_is_checked_against_its_accounts_currency():
    rows = validator(EuroBooks())
    record, errors = rows.validate(2, ["", "EU-1", "", "€100.00", "11/30/2026", "", ""])
    assert errors == [] and record[4] == Decimal("100.00")
    assert rows.validate(3, ["", "EU-1", "", "EUR 20.00", "11/30/2026", "", ""])[1] == []
    assert rows.validate(4, ["", "EU-1", "", "20.00", "11/30/2026", "", ""])[1] == []  # no sign: the account's
    assert errors_of(rows.validate(5, ["", "EU-1", "", "$50.00", "11/30/2026", "", ""])) == [
        ("Amt", "Amt '$50.00' is in USD, CAD, AUD, MXN or another ($), but account EU-1 is in EUR "
                "(payments are never converted)")]
    assert errors_of(rows.validate(6, ["", "R-1", "", "€5.00", "11/30/2026", "", ""])) == [
        ("Amt", "Amt '€5.00' is in EUR (€), but account R-1 is in USD (payments are never converted)")]


def test_another_systems_empty_date_is_refused_before_the_file_is_posted():
    assert errors_of(validator(Books()).validate(2, ["", "R-1", "", "10.00", "01/01/1900", "", ""])) == [
        ("Date", "Date '01/01/1900' is before 01/01/2000: check the date")]


def test_a_reference_a_workbook_holds_as_a_number_says_why_it_may_not_match():
    assert errors_of(validator(Books()).validate(2, ["", 123, "", "10.00", "11/30/2026", "", ""])) == [
        ("Ref", "no account of this client has client reference '123' (the workbook holds it as a number: "
                "if the reference has leading zeros, format that column as Text)")]
