"""The e-signature disclosure and the agreement PDF (WeasyPrint).

The disclosure's text is versioned; its SHA-256 goes into the evidence, so what the debtor saw
can be proven later. The agreement is rendered once, when the debtor signs, stored, and never
rendered again: a copy a debtor sends back is checked against its stored SHA-256.
"""
import hashlib
from dataclasses import dataclass

from django.template.loader import render_to_string

from portal.pdf import render_pdf

# Change the version whenever templates/debtor/esign_disclosure.txt changes.
ESIGN_DISCLOSURE_VERSION = "esign-2026-12-01"


@dataclass(frozen=True)
class Disclosure:
    version: str
    text: str
    sha256: str


def esign_disclosure(agency) -> Disclosure:
    """The ESIGN consumer disclosure (15 U.S.C. 7001(c)) as this agency shows it: the right to a
    paper copy, how to withdraw consent and what that does, what the consent covers, and what is
    needed to open the document. Returns its version, text and the text's SHA-256 (hex)."""
    text = render_to_string("debtor/esign_disclosure.txt", {"agency": agency}).strip()
    return Disclosure(ESIGN_DISCLOSURE_VERSION, text, hashlib.sha256(text.encode()).hexdigest())


def render_agreement_pdf(context: dict) -> bytes:
    """The agreement as PDF bytes, from templates/payments/agreement.html and `context` (agency,
    client, account, plan kind and totals, the schedule, the signature block)."""
    return render_pdf("payments/agreement.html", context, "payments/agreement.css")


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
