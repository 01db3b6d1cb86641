"""The identity check on a secure link: two facts the portal holds that the debtor must confirm
before anything about the debt is shown.

Preference: the postal code on file and the last 4 digits of the tax ID; without a tax ID, the
client's reference and the postal code; failing those, any two of the four (reference, postal
code, tax ID last 4, last 4 digits of a phone on file). Answers are compared after folding case
and dropping spaces and punctuation; only the fact names are ever recorded, never the values.
"""
import hmac
import re
from dataclasses import dataclass

from collections_work.models import Contact

# US ZIP (with or without +4) and Canadian postal codes, in the joined address the intake stores
# ("1 Main St, Springfield, IL 62701-1234, US").
POSTAL_CODE = re.compile(r"\b(\d{5})(?:-\d{4})?\b|\b([A-Z]\d[A-Z] ?\d[A-Z]\d)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Fact:
    name: str
    label: str
    help: str
    accepted: tuple[str, ...]  # normalised values that count as right


FACTS = {
    "postal_code": ("Postal code of your address on file", "The ZIP or postal code, e.g. 62701"),
    "tax_id_last4": ("Last 4 digits of your SSN or tax ID", "Four digits"),
    "client_reference": ("Your account number with the creditor", "As it appears on the creditor's invoice or letter"),
    "phone_last4": ("Last 4 digits of your phone number on file", "Four digits"),
}
PREFERRED_PAIRS = [("postal_code", "tax_id_last4"), ("client_reference", "postal_code"),
                   ("client_reference", "tax_id_last4"), ("client_reference", "phone_last4"),
                   ("postal_code", "phone_last4"), ("tax_id_last4", "phone_last4")]


def normalise(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", (text or "").lower())


def _values_on_file(account) -> dict[str, tuple[str, ...]]:
    contacts = list(Contact.objects.filter(debtor_id=account.debtor_id).values_list("kind", "value"))
    postal = {normalise(match.group(1) or match.group(2)) for kind, value in contacts if kind == Contact.Kind.ADDRESS
              for match in POSTAL_CODE.finditer(value)}
    phones = {digits[-4:] for kind, value in contacts if kind == Contact.Kind.PHONE
              if len(digits := re.sub(r"\D", "", value)) >= 4}
    found = {"postal_code": tuple(sorted(postal)), "phone_last4": tuple(sorted(phones)),
             "tax_id_last4": (account.debtor.tax_id_last4,) if len(account.debtor.tax_id_last4 or "") == 4 else (),
             "client_reference": (normalise(account.client_reference),) if normalise(account.client_reference) else ()}
    return {name: values for name, values in found.items() if values}


def facts_for(account) -> list[Fact] | None:
    """The two facts the debtor of `account` must confirm, or None when the portal holds fewer
    than two (then no link can be issued for it)."""
    on_file = _values_on_file(account)
    for pair in PREFERRED_PAIRS:
        if all(name in on_file for name in pair):
            return [Fact(name, *FACTS[name], on_file[name]) for name in pair]
    return None


# What an answer must look like before it is compared: a typo of the wrong shape ("12", "abc" for
# four digits) is pointed out on its box and costs none of the link's tries.
SHAPES = {"tax_id_last4": (re.compile(r"\d{4}"), "Type the last 4 digits, e.g. 4321."),
          "phone_last4": (re.compile(r"\d{4}"), "Type the last 4 digits, e.g. 1010."),
          "postal_code": (re.compile(r"\d{5}(\d{4})?|[a-z]\d[a-z]\d[a-z]\d"),
                          "Type the ZIP code (e.g. 62701) or the Canadian postal code (e.g. H2X 1Y4).")}


def answer_problem(name: str, answer: str) -> str | None:
    """Why `answer` to the fact `name` cannot be right whatever is on file (the message for its
    box), or None when it has the fact's shape."""
    shape = SHAPES.get(name)
    if shape is None or shape[0].fullmatch(normalise(answer)):
        return None
    return shape[1]


def _comparable(name: str, answer: str) -> str:
    """The answer as compared: normalised; a ZIP+4 ("60611-0000") as its ZIP (the +4 is not on
    every letter, and the portal keeps the 5 digits)."""
    given = normalise(answer)
    return given[:5] if name == "postal_code" and re.fullmatch(r"\d{9}", given) else given


def answers_match(facts: list[Fact], answers: dict[str, str]) -> bool:
    """True when every fact's answer is one of its accepted values (constant-time compares)."""
    results = []
    for fact in facts:
        given = _comparable(fact.name, answers.get(fact.name, ""))
        results.append(any(hmac.compare_digest(given, accepted) for accepted in fact.accepted) and bool(given))
    return all(results)
