"""The fields a placement can carry, and guessing which file column holds which field."""
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from collections_work.placements.intake.values import DATE_FORMATS


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    required: bool = False
    synonyms: tuple = ()


FIELDS = [
    Field("client_reference", "Client reference", True,
          ("reference", "ref", "account", "account number", "account no", "acct", "acct no", "client ref",
           "your reference", "invoice id", "claim number", "file number", "loan number", "loan", "loan id",
           "contract number", "policy number", "matter number", "id",
           # German, Spanish, French
           "referenz", "aktenzeichen", "kontonummer", "vorgangsnummer", "referencia", "numero de cuenta",
           "numero de referencia", "expediente", "reference client", "numero de compte", "numero de dossier")),
    Field("client_debtor_id", "Your debtor / customer ID", False,
          ("customer number", "customer id", "customer no", "customer code", "debtor id", "debtor number",
           "client debtor id", "account holder id", "patient id", "member id",
           "kundennummer", "kunden nr", "debitorennummer", "numero de cliente", "id cliente",
           "codigo cliente", "numero client", "code client", "id client")),
    Field("debtor_name", "Debtor name", True,
          ("debtor", "name", "customer", "customer name", "company", "company name", "business name",
           "account name", "debtor company", "full name", "bill to",
           "kunde", "kundenname", "firma", "schuldner", "nachname", "cliente", "nombre", "razon social",
           "deudor", "nombre del cliente", "client", "nom", "nom du client", "raison sociale", "debiteur", "societe")),
    Field("debtor_kind", "Debtor type", False, ("type", "debtor type", "entity type", "customer type", "kind")),
    Field("tax_id", "Tax ID / national ID", False, ("tax id", "ein", "tin", "ssn", "social security number", "vat",
                                                    "vat number", "national id", "company number", "tax number",
                                                    "steuernummer", "ust idnr", "ust id", "nif", "cif", "rfc",
                                                    "siret", "siren", "numero de tva", "numero fiscal")),
    Field("email", "Email", False, ("email", "email address", "contact email", "courriel", "correo",
                                    "correo electronico", "adresse email")),
    Field("phone", "Phone", False, ("phone", "telephone", "phone number", "mobile", "cell", "contact phone",
                                    "telefon", "telefonnummer", "handy", "telefono", "movil", "portable")),
    Field("address_line1", "Address", False, ("address", "address 1", "address line 1", "street", "billing address",
                                              "strasse", "anschrift", "adresse", "direccion", "calle", "rue")),
    Field("address_line2", "Address line 2", False, ("address 2", "address line 2", "suite", "unit",
                                                     "adresszusatz", "complement d adresse")),
    Field("city", "City", False, ("city", "town", "ort", "stadt", "ciudad", "poblacion", "localidad", "ville")),
    Field("region", "State / region", False, ("state", "region", "province", "county", "bundesland", "provincia",
                                              "estado", "departement")),
    Field("postal_code", "Postal code", False, ("zip", "zip code", "postal code", "postcode", "plz", "postleitzahl",
                                                "codigo postal", "cp", "code postal")),
    Field("country", "Country", False, ("country", "country code", "land", "pais", "pays")),
    Field("time_zone", "Time zone", False, ("time zone", "timezone", "tz", "zeitzone", "zona horaria", "fuseau horaire")),
    Field("principal", "Principal / balance", True,
          ("principal", "balance", "open amount", "balance due", "outstanding", "amount due", "open balance",
           "amount", "total due", "debt", "owed", "amount owed", "original amount",
           "offener betrag", "offen", "saldo", "betrag", "forderung", "hauptforderung", "restbetrag",
           "importe", "importe pendiente", "monto", "deuda", "solde", "montant", "montant du", "reste du")),
    Field("interest", "Interest", False, ("interest", "accrued interest", "interest amount", "zinsen", "intereses",
                                          "interets")),
    Field("fees", "Fees", False, ("fees", "fee", "late fees", "charges", "collection fees", "gebuhren", "mahngebuhren",
                                  "kosten", "gastos", "comisiones", "frais")),
    Field("paid", "Already paid", False, ("paid", "amount paid", "payments", "paid to date", "bezahlt", "gezahlt",
                                          "pagado", "importe pagado", "paye", "montant paye")),
    Field("invoice_number", "Invoice number(s)", False, ("invoice", "invoice number", "invoice no", "invoices",
                                                          "invoice numbers", "document number", "rechnung",
                                                          "rechnungsnummer", "rechnungs nr", "factura",
                                                          "numero de factura", "facture", "numero de facture")),
    Field("invoice_date", "Invoice date", False, ("invoice date", "bill date", "document date", "rechnungsdatum",
                                                  "belegdatum", "fecha de factura", "fecha factura", "date de facture",
                                                  "date facture")),
    Field("due_date", "Due date", False, ("due date", "due", "payment due", "date due", "falligkeitsdatum", "fallig am",
                                          "fallig", "fecha de vencimiento", "vencimiento", "date d echeance",
                                          "echeance")),
    Field("delinquency_date", "Delinquency date", False, ("delinquency date", "delinquent since", "past due since",
                                                           "default date", "charge off date", "verzugsdatum",
                                                           "in verzug seit", "fecha de mora", "date de defaut")),
    Field("last_payment_date", "Last payment date", False, ("last payment date", "last payment", "last paid",
                                                            "letzte zahlung", "ultimo pago", "dernier paiement")),
    Field("debt_purpose", "Debt purpose", False, ("debt purpose", "purpose", "debt type", "commercial or consumer")),
    Field("party_role", "Party role (one row per party)", False,
          ("role", "party role", "party", "party type", "relationship", "debtor role", "rolle", "rol", "qualite")),
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
                 "nbr": "number", "nr": "number", "amt": "amount", "bal": "balance", "addr": "address",
                 "inv": "invoice", "dt": "date", "ref": "reference", "tel": "phone", "ph": "phone", "st": "state",
                 "zipcode": "zip", "mail": "email", "co": "co", "orig": "original"}
# Fields whose column may also be the client reference ("Invoice #" is often both).
SHARES_REFERENCE = ("invoice_number", "client_debtor_id")


def normalise_header(text) -> str:
    """Lower case without accents ("Straße" -> "strasse", "Teléfono" -> "telefono"), '#' read as
    'number', "E-Mail" as "email", punctuation dropped, common abbreviations spelled out."""
    text = unicodedata.normalize("NFKD", str(text or "").lower().replace("ß", "ss"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).replace("#", " number ")
    text = _E_MAIL.sub("email", text)
    words = re.sub(r"[^a-z0-9]+", " ", text).split()
    return " ".join(ABBREVIATIONS.get(word, word) for word in words)


_E_MAIL = re.compile(r"\be[\s_-]?mail\b")
_SYNONYMS: dict[str, tuple[str, int]] = {}
_TOKEN_SETS: list[tuple[frozenset, str]] = []
for _field in FIELDS:
    for _rank, _name in enumerate((_field.key.replace("_", " "), _field.label, *_field.synonyms)):
        _SYNONYMS.setdefault(normalise_header(_name), (_field.key, _rank))
        _TOKEN_SETS.append((frozenset(normalise_header(_name).split()), _field.key))


def field_for_header(header) -> str | None:
    """The field a column name most likely means, or None (see `header_scores`)."""
    scores = header_scores(header)
    return max(scores, key=scores.get) if scores else None


def header_scores(header) -> dict[str, float]:
    """field -> how well the column name fits it: 2 and a little less for an exact name (earlier
    synonyms of a field first: "Balance" before "Amount"), else the share of words it has in
    common with the closest synonym (the same words in another order: 1), at least 0.5."""
    normal = normalise_header(header)
    if not any(ch.isalpha() for ch in normal):  # numbers are data, not column names
        return {}
    if normal in _SYNONYMS:
        key, rank = _SYNONYMS[normal]
        return {key: 2.0 - rank / 100}
    words = frozenset(normal.split())
    scores: dict[str, float] = {}
    for synonym_words, key in _TOKEN_SETS:
        score = len(words & synonym_words) / len(words | synonym_words)
        if score >= 0.5 and score > scores.get(key, 0):
            scores[key] = score
    return scores


# --- What the values of a column look like --------------------------------------------------

_EMAIL_VALUE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SMALL_INTEGER = re.compile(r"^-?\d{1,4}$", re.ASCII)
_AMOUNT_VALUE = re.compile(r"^\(?-?\s*[$€£]?\s*-?\d[\d.,' ]*\)?$|^-?\d+(\.\d+)?$", re.ASCII)
_DATE_VALUE = re.compile(r"^(\d{4}-\d{2}-\d{2}([ T].*)?|\d{1,2}[./-]\d{1,2}[./-]\d{4}|\d{4}/\d{1,2}/\d{1,2})$", re.ASCII)
_PHONE_VALUE = re.compile(r"^\+?[\d\s().-]{7,20}$", re.ASCII)
_COMMA_DECIMAL = re.compile(r"^[^\d]*\d{1,3}(\.\d{3})*,\d{1,2}\D*$|^[^\d]*\d+,\d{2}\D*$", re.ASCII)
_DOT_DECIMAL = re.compile(r"^[^\d]*\d{1,3}(,\d{3})*\.\d{1,2}\D*$|^[^\d]*\d+\.\d{2}\D*$", re.ASCII)

EMAIL_FIELDS = ("email", "co_debtor_email", "guarantor_email")
DATE_FIELDS = ("invoice_date", "due_date", "delinquency_date", "last_payment_date")
AMOUNT_FIELDS = ("principal", "interest", "fees", "paid")
PHONE_FIELDS = ("phone", "co_debtor_phone", "guarantor_phone")
NAME_FIELDS = ("debtor_name", "co_debtor_name", "guarantor_name", "city", "address_line1")


def _share(values: list[str], pattern) -> float:
    return sum(1 for v in values if pattern.match(v)) / len(values)


def values_fit(field: str, values: list[str], exact: bool = False) -> bool:
    """Whether a column's non-empty sample `values` can be `field`'s: an email column holds email
    addresses, a date column dates (never small integers like days past due), an amount column
    amounts, a phone column phone numbers, a name column letters that are not email addresses.
    No sample: anything fits. A column whose name is exactly the field's (`exact`) is refused
    only where its values say it cannot be: small integers for a date, no email address at all for
    an email; otherwise its bad values are row errors the check reports."""
    if not values:
        return True
    if exact:
        if field in DATE_FIELDS:
            return _share(values, _SMALL_INTEGER) < 0.5
        if field in EMAIL_FIELDS:
            return _share(values, _EMAIL_VALUE) > 0
        return True
    if field in EMAIL_FIELDS:
        return _share(values, _EMAIL_VALUE) >= 0.5
    if field in DATE_FIELDS:
        return _share(values, _SMALL_INTEGER) < 0.5 and _share(values, _DATE_VALUE) + _share(
            values, re.compile(r"^\d{5}(\.0)?$")) >= 0.5  # ISO/local dates, or Excel serial dates
    if field in AMOUNT_FIELDS:
        return _share(values, _AMOUNT_VALUE) >= 0.5
    if field in PHONE_FIELDS:
        return _share(values, _PHONE_VALUE) >= 0.5
    if field in NAME_FIELDS:
        return _share(values, _EMAIL_VALUE) < 0.5 and any(any(ch.isalpha() for ch in v) for v in values)
    return True


def _column_values(samples: list[list], index: int) -> list[str]:
    return [str(row[index]).strip() for row in samples or [] if index < len(row) and str(row[index] or "").strip()]


def guess_mapping(headers: list[str], samples: list[list] | None = None) -> dict[str, int]:
    """field -> column index, guessed from the column names and the first rows under them.

    Each (column, field) pair scores by its name (`header_scores`), and pairs whose values do not
    fit the field (`values_fit`) are dropped; the best pairs are taken first, each field and
    column once, so an exact "E-Mail" wins over "Contact" (and "Contact", holding names, is never
    an email column). A column of email addresses with no recognised name becomes the email.
    The client reference, when no column is named like one, is the invoice number's column, else
    the client's debtor ID's (`SHARES_REFERENCE`)."""
    pairs = []
    for index, header in enumerate(headers):
        values = _column_values(samples, index)
        for key, score in header_scores(header).items():
            if values_fit(key, values, exact=score > 1):
                pairs.append((score, -index, key, index))
    mapping, used = {}, set()
    for _score, _order, key, index in sorted(pairs, reverse=True):
        if key not in mapping and index not in used:
            mapping[key] = index
            used.add(index)
    if "email" not in mapping:
        for index in range(len(headers)):
            values = _column_values(samples, index)
            if index not in used and values and values_fit("email", values):
                mapping["email"] = index
                used.add(index)
                break
    if "client_reference" not in mapping:
        for key in SHARES_REFERENCE:
            if key in mapping:
                mapping["client_reference"] = mapping[key]
                break
    return mapping


def guess_formats(mapping: dict[str, int], samples: list[list] | None) -> dict:
    """The amount and date formats the mapped columns' sample values are written in, as placement
    options: {"amount_format": "comma"} for `67.467,32`, {"date_format": "%d.%m.%Y"} for
    `01.01.2025`. A format the values do not settle (no sample, only ISO dates, `01/02/2025`
    with no day past 12) is left out, so the default stays."""
    found = {}
    amounts = [v for key in AMOUNT_FIELDS if key in mapping for v in _column_values(samples, mapping[key])]
    comma, dot = _share(amounts, _COMMA_DECIMAL) if amounts else 0, _share(amounts, _DOT_DECIMAL) if amounts else 0
    # Only a clear majority decides: a lone "12,50" among whole numbers stays a row error to fix.
    if comma >= 0.5 and not dot:
        found["amount_format"] = "comma"
    elif dot >= 0.5 and not comma:
        found["amount_format"] = "dot"
    dates = [v for key in DATE_FIELDS if key in mapping for v in _column_values(samples, mapping[key])
             if not (len(v) >= 10 and v[4] == "-")]  # ISO dates are read whatever the format
    if dates:
        fitting = [fmt for fmt in DATE_FORMATS if fmt != "%Y-%m-%d" and all(_parses(v, fmt) for v in dates)]
        if len(fitting) == 1:
            found["date_format"] = fitting[0]
    return found


def _parses(text: str, date_format: str) -> bool:
    try:
        datetime.strptime(text, date_format)
    except ValueError:
        return False
    return True


def mapping_from_names(headers: list[str], names: dict[str, str]) -> dict[str, int]:
    """Apply a saved mapping (field -> header text) to a file's headers, by normalised name."""
    positions = {normalise_header(h): i for i, h in enumerate(headers)}
    return {field: positions[normalise_header(name)] for field, name in names.items()
            if normalise_header(name) in positions}
