"""The fields a placement can carry, and guessing which file column holds which field."""
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    required: bool = False
    synonyms: tuple = ()


FIELDS = [
    Field("client_reference", "Client reference", True,
          ("reference", "ref", "account", "account number", "account no", "acct", "acct no", "customer number",
           "customer id", "client ref", "your reference", "invoice id", "claim number", "id")),
    Field("debtor_name", "Debtor name", True,
          ("debtor", "name", "customer", "customer name", "company", "company name", "business name",
           "account name", "debtor company", "full name", "bill to")),
    Field("debtor_kind", "Debtor type", False, ("type", "debtor type", "entity type", "customer type", "kind")),
    Field("tax_id", "Tax ID / national ID", False, ("tax id", "ein", "tin", "ssn", "vat", "vat number", "national id",
                                                    "company number", "tax number")),
    Field("email", "Email", False, ("email", "e-mail", "email address", "mail", "contact email")),
    Field("phone", "Phone", False, ("phone", "telephone", "tel", "phone number", "mobile", "cell", "contact phone")),
    Field("address_line1", "Address", False, ("address", "address 1", "address line 1", "street", "billing address")),
    Field("address_line2", "Address line 2", False, ("address 2", "address line 2", "suite", "unit")),
    Field("city", "City", False, ("city", "town")),
    Field("region", "State / region", False, ("state", "region", "province", "county")),
    Field("postal_code", "Postal code", False, ("zip", "zip code", "postal code", "postcode")),
    Field("country", "Country", False, ("country", "country code")),
    Field("time_zone", "Time zone", False, ("time zone", "timezone", "tz")),
    Field("principal", "Principal / balance", True,
          ("principal", "balance", "amount", "amount due", "balance due", "outstanding", "open amount",
           "total due", "debt", "owed", "amount owed", "original amount")),
    Field("interest", "Interest", False, ("interest", "accrued interest", "interest amount")),
    Field("fees", "Fees", False, ("fees", "fee", "late fees", "charges", "collection fees")),
    Field("paid", "Already paid", False, ("paid", "amount paid", "payments", "paid to date")),
    Field("invoice_number", "Invoice number(s)", False, ("invoice", "invoice number", "invoice no", "invoices",
                                                          "invoice numbers", "document number")),
    Field("invoice_date", "Invoice date", False, ("invoice date", "bill date", "document date")),
    Field("due_date", "Due date", False, ("due date", "due", "payment due", "date due")),
    Field("delinquency_date", "Delinquency date", False, ("delinquency date", "delinquent since", "past due since",
                                                           "default date", "charge off date")),
    Field("last_payment_date", "Last payment date", False, ("last payment date", "last payment", "last paid")),
    Field("debt_purpose", "Debt purpose", False, ("debt purpose", "purpose", "debt type", "commercial or consumer")),
    Field("co_debtor_name", "Co-debtor name", False, ("co debtor", "co-debtor", "co debtor name", "joint debtor")),
    Field("co_debtor_email", "Co-debtor email", False, ("co debtor email", "co-debtor email")),
    Field("co_debtor_phone", "Co-debtor phone", False, ("co debtor phone", "co-debtor phone")),
    Field("guarantor_name", "Guarantor name", False, ("guarantor", "guarantor name", "personal guarantor")),
    Field("guarantor_email", "Guarantor email", False, ("guarantor email",)),
    Field("guarantor_phone", "Guarantor phone", False, ("guarantor phone",)),
]
FIELDS_BY_KEY = {f.key: f for f in FIELDS}
REQUIRED_FIELDS = [f.key for f in FIELDS if f.required]


ABBREVIATIONS = {"cust": "customer", "acct": "account", "acc": "account", "no": "number", "num": "number",
                 "nbr": "number", "amt": "amount", "bal": "balance", "addr": "address", "inv": "invoice",
                 "dt": "date", "ref": "reference", "tel": "phone", "ph": "phone", "st": "state", "zipcode": "zip",
                 "e": "email", "mail": "email", "co": "co", "orig": "original"}


def normalise_header(text) -> str:
    """Lower case, '#' read as 'number', punctuation dropped, common abbreviations spelled out."""
    words = re.sub(r"[^a-z0-9]+", " ", str(text or "").lower().replace("#", " number ")).split()
    return " ".join(ABBREVIATIONS.get(word, word) for word in words)


_SYNONYMS: dict[str, str] = {}
_TOKEN_SETS: list[tuple[frozenset, str]] = []
for _field in FIELDS:
    for _name in (_field.key.replace("_", " "), _field.label, *_field.synonyms):
        _SYNONYMS.setdefault(normalise_header(_name), _field.key)
        _TOKEN_SETS.append((frozenset(normalise_header(_name).split()), _field.key))


def field_for_header(header) -> str | None:
    """The field a column name most likely means, or None: the exact name, the same words in
    another order ("Date due"), or failing that the synonym sharing most of its words."""
    normal = normalise_header(header)
    if normal in _SYNONYMS:
        return _SYNONYMS[normal]
    words = frozenset(normal.split())
    if not any(ch.isalpha() for ch in normal):  # numbers are data, not column names
        return None
    best, best_score = None, 0.0
    for synonym_words, key in _TOKEN_SETS:
        score = len(words & synonym_words) / len(words | synonym_words)
        if score > best_score:
            best, best_score = key, score
    return best if best_score >= 0.5 else None


def guess_mapping(headers: list[str]) -> dict[str, int]:
    """field -> column index, each field and column used at most once (first match wins)."""
    mapping = {}
    for index, header in enumerate(headers):
        key = field_for_header(header)
        if key and key not in mapping:
            mapping[key] = index
    return mapping


def mapping_from_names(headers: list[str], names: dict[str, str]) -> dict[str, int]:
    """Apply a saved mapping (field -> header text) to a file's headers, by normalised name."""
    positions = {normalise_header(h): i for i, h in enumerate(headers)}
    return {field: positions[normalise_header(name)] for field, name in names.items()
            if normalise_header(name) in positions}
