"""Letters to debtors (keyword-only, audited): the validation notice a consumer account gets when
it is first contacted, emailed when the debtor agreed to electronic delivery, otherwise queued
for the day's print batch (one PDF for the print vendor, marked mailed by staff). Each queued
letter asks the contact policy again when the batch is made (letter_print_decision): the debtor
may have asked us to stop, or disputed, since it was queued.

The validation notice states what 12 CFR 1006.34(c) requires: the debt collector and the
consumer, the creditor and account number, the itemization date and the itemization since then
(interest, fees, payments and credits), the amount now, the end of the validation period, how to
dispute, and the dispute prompts (1006.34(c)(4)). Made once per account (a unique key).
"""
import io
from functools import lru_cache
from datetime import date, timedelta

from dateutil.relativedelta import MO, TH, relativedelta

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts import permissions
from collections_work.compliance import SendDecision, contact_decision, opt_out_link, policy_for, send_decision
from collections_work.debtor_accounts import events
from collections_work.models import Activity, Contact, DebtorAccount, DebtPurpose, Dispute, Letter, PrintBatch
from portal.audit import audit_record
from portal.emails import email_schedule
from portal.errors import DomainError
from portal.pdf import render_pdf
from portal.text import date_text

VALIDATION_KEY = "validation-notice"
# The validation period ends 30 days after the consumer receives the notice, which a debt
# collector may take to be five days after sending it, not counting Saturdays, Sundays and the
# legal public holidays of 5 U.S.C. 6103(a) (12 CFR 1006.34(b)(5)).
VALIDATION_DAYS = 30
RECEIPT_DAYS = 5


def federal_holidays(year: int) -> set[date]:
    """The legal public holidays of 5 U.S.C. 6103(a) in `year`, and the Friday or Monday each is
    observed on when it falls on a Saturday or Sunday (6103(b)): both are left out of the
    receipt days, which can only lengthen the validation period."""
    fixed = [date(year, 1, 1), date(year, 6, 19), date(year, 7, 4), date(year, 11, 11), date(year, 12, 25)]
    by_weekday = [
        date(year, 1, 1) + relativedelta(weekday=MO(+3)),   # Birthday of Martin Luther King, Jr.
        date(year, 2, 1) + relativedelta(weekday=MO(+3)),   # Washington's Birthday
        date(year, 5, 31) + relativedelta(weekday=MO(-1)),  # Memorial Day
        date(year, 9, 1) + relativedelta(weekday=MO(+1)),   # Labor Day
        date(year, 10, 1) + relativedelta(weekday=MO(+2)),  # Columbus Day
        date(year, 11, 1) + relativedelta(weekday=TH(+4)),  # Thanksgiving Day
    ]
    observed = {day - timedelta(days=1) if day.weekday() == 5 else day + timedelta(days=1)
                for day in fixed if day.weekday() >= 5}
    if date(year + 1, 1, 1).weekday() == 5:  # next New Year's Day on a Saturday: observed Dec 31
        observed.add(date(year, 12, 31))
    return set(fixed) | set(by_weekday) | {day for day in observed if day.year == year}


def assumed_receipt(sent_on: date) -> date:
    """The day a notice sent on `sent_on` is taken as received: the fifth day after it that is
    not a Saturday, Sunday or legal public holiday (12 CFR 1006.34(b)(5))."""
    day, counted = sent_on, 0
    while counted < RECEIPT_DAYS:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in federal_holidays(day.year):
            counted += 1
    return day


def _itemization(account) -> dict:
    """Reg F's itemization from the account's figures. The itemization date is the day the debt
    fell due (transaction date), else the delinquency or placement date."""
    day = account.due_date or account.delinquency_date or timezone.localdate(account.placed_at)
    creditor = (account.client.legal_name or account.client.name).strip()
    return {"itemization_date": day.isoformat(), "itemization_date_text": _long(day), "creditor": creditor,
            "creditor_stop": "" if creditor.endswith(".") else ".",  # "owe to Acme Ltd." not "Acme Ltd.."
            "amount_then": str(account.principal),
            "interest_since": str(account.interest), "fees_since": str(account.fees),
            "paid_since": str(account.paid), "credits_since": str(account.adjusted), "amount_now": str(account.balance)}


ADDRESS_LINES = 6  # what the envelope's window shows at the letter's smaller address size
US_NAMES = {"US", "USA", "U.S.", "U.S.A.", "UNITED STATES", "UNITED STATES OF AMERICA"}


def mailing_address(account) -> str:
    """The debtor's name and address as the envelope window shows it (USPS Publication 28): the
    street lines, the city line ("City, ST ZIP" in the US, "City REGION POSTCODE" abroad), and for
    mail abroad the country's name in capitals as the last line. The portal keeps an address as
    one line, "street, city, ST ZIP, country"; a last part of two letters after a postal code is
    an ISO country code ("…, QC H2X 1Y4, CA" is Canada; "…, Los Angeles, CA" stays California).
    At most ADDRESS_LINES lines: extra street lines are joined with commas, never cut."""
    address = (Contact.objects.filter(debtor_id=account.debtor_id, kind=Contact.Kind.ADDRESS).order_by("id")
               .values_list("value", flat=True).first())
    parts = [part.strip() for part in (address or "").split(",") if part.strip()]
    country = ""
    if parts and parts[-1].upper() in US_NAMES:
        parts.pop()
    elif len(parts) >= 3 and any(c.isdigit() for c in parts[-2]) and (code := country_code(parts[-1])):
        parts.pop()
        country = "" if code == "US" else country_name(code).upper()
    if len(parts) >= 3:
        parts = parts[:-2] + [f"{parts[-2]} {parts[-1]}" if country else f"{parts[-2]}, {parts[-1]}"]
    lines = [account.debtor_name, *parts, *filter(None, [country])]
    if len(lines) > ADDRESS_LINES and len(parts) >= 2:  # join the street lines that do not fit
        keep = ADDRESS_LINES - 2 - bool(country)  # the name, the joined street, the city line, the country
        street, city = parts[:-1], parts[-1]
        street = street[:keep - 1] + [", ".join(street[keep - 1:])] if keep > 1 else [", ".join(street)]
        lines = [account.debtor_name, *street, city, *filter(None, [country])]
    return "\n".join(lines)


def country_name(code: str) -> str:
    """The English name of the ISO 3166 country `code` (Unicode CLDR, via babel), or the code."""
    from babel import Locale

    return Locale("en").territories.get(code.upper(), code)


def country_code(text: str) -> str:
    """The ISO 3166 code `text` names: a two-letter code, or a country's English name
    ("Canada", "germany"); "" for anything else."""
    if len(text) == 2 and text.isalpha():
        return text.upper()
    return _country_codes().get(text.casefold(), "")


@lru_cache(maxsize=1)
def _country_codes() -> dict:
    from babel import Locale

    return {name.casefold(): code for code, name in Locale("en").territories.items() if len(code) == 2}


def _long(day) -> str:
    return f"{day:%B} {day.day}, {day.year}"


def render_letters_pdf(letters) -> bytes:
    """One PDF of `letters`, each starting on a new page (one letter or a whole print batch)."""
    return render_pdf("letters/letters.html", {"letters": letters}, "letters/letters.css")


def merge_pdfs(files, *, duplex: bool = False) -> bytes:
    """The stored PDFs one after another (each letter as it was made: never rendered again).
    `duplex`: a blank page after each document with an odd page count, so each one starts on
    the front of a sheet."""
    from pypdf import PdfWriter

    writer, out = PdfWriter(), io.BytesIO()
    for file in files:
        with file.open("rb") as handle:
            writer.append(io.BytesIO(handle.read()))
        if duplex and len(writer.pages) % 2:
            box = writer.pages[-1].mediabox
            writer.add_blank_page(width=box.width, height=box.height)
    writer.write(out)
    return out.getvalue()


def _validation_content(account, now) -> dict:
    """What the notice states, sent on `now`'s day: the itemization and the validation period."""
    sent_on = account.agency.local_date(now)  # the agency's calendar day
    ends = assumed_receipt(sent_on) + timedelta(days=VALIDATION_DAYS)
    return _itemization(account) | {"sent_on": sent_on.isoformat(), "sent_on_text": _long(sent_on),
                                    "validation_ends": ends.isoformat(), "validation_ends_text": _long(ends)}


def validation_notice_ensure(account, *, now=None) -> Letter | None:
    """The account's validation notice, made now if it has none: for consumer accounts only
    (None otherwise). Emailed when the debtor agreed to electronic delivery and the contact
    policy allows an email now; otherwise queued for print. Never made twice."""
    if account.debt_purpose != DebtPurpose.CONSUMER:
        return None
    existing = Letter.objects.filter(account=account, key=VALIDATION_KEY).first()
    if existing is not None:
        return existing
    now = now or timezone.now()
    content = _validation_content(account, now)
    letter = Letter(agency_id=account.agency_id, client_id=account.client_id, account=account,
                    kind=Letter.Kind.VALIDATION_NOTICE, key=VALIDATION_KEY, content=content,
                    mailing_address=mailing_address(account))
    letter.account = account
    pdf = render_letters_pdf([letter])
    letter.pdf.save(f"validation-notice-{account.pk}.pdf", ContentFile(pdf), save=False)
    email = _electronic_address(account, now)
    try:
        with transaction.atomic():
            letter.status = Letter.Status.EMAILED if email else Letter.Status.QUEUED
            letter.sent_at = now if email else None
            letter.save(force_insert=True)
            if email:
                # Sent at once, as the policy allowed it a moment ago (no account= for the send-time
                # gate: a held notice would keep its dates and a cancelled one have no printed fallback).
                email_schedule(key=f"letter:{letter.pk}", to=email.value, template="validation_notice",
                               subject=f"Important information about your debt with {account.client.name}",
                               agency=account.agency, client=account.client, attachment=letter.pdf.name,
                               kind="validation_notice", secrets={"opt_out_link": opt_out_link(email)},
                               context={"account": account, "agency": account.agency, "letter": letter})
            how = f"emailed to {email.value}" if email else "queued for print"
            events.letter_recorded(account, summary=f"Validation notice {how}; the validation period ends "
                                                    f"{content['validation_ends_text']}", at=now)
            audit_record(action="letter.created", agency=account.agency, client=account.client, obj=letter,
                         after={"kind": letter.kind, "status": letter.status})
    except IntegrityError:  # made meanwhile by another worker
        return Letter.objects.get(account=account, key=VALIDATION_KEY)
    return letter


# How far back the catch-up looks for a contact whose notice was never made; accounts contacted
# before that (or before notices existed) are left alone rather than sent a notice out of the blue.
CATCH_UP_DAYS = 2


def accounts_missing_validation_notice(now=None):
    """Consumer accounts (in the open tenant scope) contacted in the last CATCH_UP_DAYS (a phone
    conversation, or an email from staff) with no validation notice: the hand-off to the worker
    was lost (broker down when the contact was saved). The daily print batch makes theirs first."""
    since = (now or timezone.now()) - timedelta(days=CATCH_UP_DAYS)
    emailed = Activity.objects.filter(kind=Activity.Kind.EMAIL, actor__isnull=False,
                                      occurred_at__gte=since).values("account_id")
    return (DebtorAccount.objects.filter(debt_purpose=DebtPurpose.CONSUMER)
            .filter(Q(last_contact_at__gte=since) | Q(pk__in=emailed))
            .exclude(letters__key=VALIDATION_KEY).select_related("debtor", "client", "agency"))


def _electronic_address(account, now):
    """The email the notice may go to: the debtor agreed to electronic delivery (1006.42) and the
    contact policy allows an email now; else None (the letter is printed)."""
    if account.debtor.electronic_delivery_at is None:
        return None
    contact = (Contact.objects.filter(debtor_id=account.debtor_id, kind=Contact.Kind.EMAIL, opted_out_at__isnull=True)
               .order_by("id").first())
    if contact is None or not contact_decision(account=account, channel="email", contact=contact, at=now):
        return None
    return contact


def queue_letter(*, account, kind: str, key: str, pdf_name: str, content: dict) -> Letter:
    """Queue a document already rendered and stored elsewhere (a plan statement) for the day's
    print batch, once per account and `key`."""
    letter, _created = Letter.objects.get_or_create(
        account=account, key=key, defaults={"agency_id": account.agency_id, "client_id": account.client_id,
                                            "kind": kind, "pdf": pdf_name, "content": content,
                                            "mailing_address": mailing_address(account)})
    return letter


# Account statuses whose letters may never go: the agency no longer collects the debt (the client
# recalled it, staff closed it, it was paid or settled). Open statuses are OPEN_STATUSES.
NOT_COLLECTED = {DebtorAccount.Status.RECALLED, DebtorAccount.Status.CLOSED, DebtorAccount.Status.PAID,
                 DebtorAccount.Status.SETTLED}


def letter_print_decision(letter, *, at, policy=None, address=None, disputed=None) -> SendDecision:
    """May a queued letter go into the print batch made at `at`? Asked for every letter at every
    batch (the debtor may have asked us to stop, or disputed, since it was queued):

    - "cancel" (never: the reasons say why): the account is no longer collected (NOT_COLLECTED),
      or the contact policy says never for channel "letter" (a cease-communication request, the
      address opted out). On cease, 12 CFR 1006.6(c)(1) allows only a letter that says collection
      stops or names a remedy; a validation notice still queued is none of these, so it is
      cancelled too (the conservative reading: 1006.34(a) asks for the notice within five days of
      the first communication, but does not make it an exception to a cease request).
    - "defer" (not yet: stays queued, asked again at the next batch): an open dispute, the
      account on hold (the client paused collection), or a validation notice for a debtor with no
      postal address on file (it is made again with the address once staff add one).
    - "cancel" too for any other letter with no postal address: it would be printed with a name
      and nothing to mail it to (a plan statement is made again next month).
    - "send". The contact hours never hold a letter: it has no time of day.

    `policy`, `address` (the debtor's first postal address, the one mailing_address prints) and
    `disputed` may come from the batch's lookups; else read here."""
    account = letter.account
    if account.status in NOT_COLLECTED:
        return SendDecision("cancel", [f"The account is {account.get_status_display().lower()}: "
                                       "the agency no longer collects it."])
    if address is None:
        address = (Contact.objects.filter(debtor_id=account.debtor_id, kind=Contact.Kind.ADDRESS).order_by("id")
                   .first())
    decision = send_decision(account=account, channel="letter", contact=address, at=at, policy=policy,
                             disputed=disputed)
    if decision.action == "send" and address is None:
        if letter.kind == Letter.Kind.VALIDATION_NOTICE:
            return SendDecision("defer", ["No postal address on file: add the debtor's address and the notice "
                                          "goes in the next print batch."])
        return SendDecision("cancel", ["No postal address on file: nothing to mail it to."])
    if decision.action == "send" and account.status == DebtorAccount.Status.ON_HOLD:
        return SendDecision("defer", [f"The account is on hold ({account.hold_reason or 'no reason given'}): "
                                      "letters wait until it is released."])
    return decision


def _letter_held(letter, decision, *, day, at) -> bool:
    """Keep a letter the policy holds back out of the batch: cancel it for good, or leave it
    queued with the reason. The account's timeline hears of it once per new reason, not at every
    daily batch. Returns True when the timeline was told."""
    reason = decision.reason[:300]
    kind = letter.get_kind_display()
    if decision.action == "cancel":
        Letter.objects.filter(pk=letter.pk).update(status=Letter.Status.CANCELLED, cancel_reason=reason, hold_reason="")
        events.letter_recorded(letter.account, summary=f"{kind} cancelled before printing: {reason}", at=at)
        audit_record(action="letter.cancelled", agency=letter.agency, client=letter.account.client, obj=letter,
                     before={"status": Letter.Status.QUEUED}, after={"status": Letter.Status.CANCELLED, "reason": reason})
        return True
    if letter.hold_reason == reason:
        return False
    Letter.objects.filter(pk=letter.pk).update(hold_reason=reason)
    events.letter_recorded(letter.account, summary=f"{kind} held out of the {date_text(day, '%b %d')} print batch: {reason}", at=at)
    return True


def _redate_validation_notice(letter, now) -> None:
    """A validation notice that was held (a dispute, a hold, no address) goes out later than the day it
    states: it is made again for the day it is printed, so the validation period it states
    (1006.34(b)(5): 30 days after an assumed receipt 5 days after sending) is not already short."""
    letter.content = _validation_content(letter.account, now)
    letter.mailing_address = mailing_address(letter.account)  # an address added while it was held
    letter.pdf.save(f"validation-notice-{letter.account_id}.pdf", ContentFile(render_letters_pdf([letter])),
                    save=False)


def print_batch_make(*, agency_id, day, actor=None, now=None) -> PrintBatch | None:
    """Gather the letters queued for print into the day's batch: one PDF, each letter's pages as
    they were made (every letter starts on a new page; printed one side, as vendors run letters).

    Each queued letter asks the contact policy again first (letter_print_decision): one that may
    never go is cancelled (cancel_reason, one timeline entry); one that may not go yet (an open
    dispute) stays queued with its hold_reason and goes in a later batch. Returns the batch (the
    existing one when the day's batch was made already), or None when no letter may go (no empty
    batch is made; the cancellations and holds are kept). Made by beat at the end of the day, or
    by staff from the Letters page. The decisions and the batch commit together: a second maker
    (another worker, a click) waits on the letters' row locks, then finds the day's batch."""
    now = now or timezone.now()
    existing = PrintBatch.objects.filter(day=day).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            letters = list(Letter.objects.select_for_update(of=("self",)).filter(status=Letter.Status.QUEUED)
                           .select_related("account__client", "account__agency", "agency")
                           .order_by("client_id", "account__client_reference", "pk"))
            if PrintBatch.objects.filter(day=day).exists():  # made while we waited for the locks
                return PrintBatch.objects.get(day=day)
            printable = _letters_allowed(letters, day=day, now=now)
            if not printable:
                return None
            pdf = merge_pdfs([letter.pdf for letter in printable])
            batch = PrintBatch(agency_id=agency_id, day=day, letter_count=len(printable))
            batch.pdf.save(f"print-batch-{agency_id}-{day}.pdf", ContentFile(pdf), save=False)
            batch.save(force_insert=True)
            Letter.objects.filter(pk__in=[letter.pk for letter in printable], status=Letter.Status.QUEUED).update(
                status=Letter.Status.PRINTING, print_batch=batch, hold_reason="")
            audit_record(action="print_batch.made", actor=actor, agency=printable[0].agency, obj=batch,
                         after={"day": day.isoformat(), "letters": len(printable)})
    except IntegrityError:
        return PrintBatch.objects.get(day=day)
    return batch


def _letters_allowed(letters, *, day, now) -> list:
    """The letters the contact policy lets go now (the others cancelled or held, see
    _letter_held); a validation notice held before is dated again for today."""
    if not letters:
        return []
    account_ids = {letter.account_id for letter in letters}
    debtor_ids = {letter.account.debtor_id for letter in letters}
    addresses = {}
    for contact in Contact.objects.filter(debtor_id__in=debtor_ids, kind=Contact.Kind.ADDRESS).order_by("-id"):
        addresses[contact.debtor_id] = contact  # the first by id wins, as mailing_address prints it
    disputed = set(Dispute.objects.filter(account_id__in=account_ids, resolved_at__isnull=True)
                   .values_list("account_id", flat=True))
    policy = policy_for(letters[0].agency_id)
    printable = []
    for letter in letters:
        decision = letter_print_decision(letter, at=now, policy=policy, disputed=letter.account_id in disputed,
                                         address=addresses.get(letter.account.debtor_id))
        if decision.action != "send":
            _letter_held(letter, decision, day=day, at=now)
            continue
        moved = letter.mailing_address != mailing_address(letter.account)  # an address added or changed since
        if moved and letter.kind != Letter.Kind.VALIDATION_NOTICE:  # made elsewhere: cannot be made again here
            _letter_held(letter, SendDecision("cancel", ["The debtor's address changed after it was made: it would "
                                                         "go to the old one."]), day=day, at=now)
            continue
        if (letter.hold_reason or moved) and letter.kind == Letter.Kind.VALIDATION_NOTICE:
            _redate_validation_notice(letter, now)
            Letter.objects.filter(pk=letter.pk).update(content=letter.content, pdf=letter.pdf.name,
                                                       mailing_address=letter.mailing_address)
            events.letter_recorded(letter.account, at=now, summary=f"Validation notice dated again for printing on "
                                   f"{letter.content['sent_on_text']}; the validation period now ends "
                                   f"{letter.content['validation_ends_text']}")
        printable.append(letter)
    return printable


def print_batch_mailed(*, agency, actor, batch, now=None) -> PrintBatch:
    """Staff confirm the print vendor mailed the batch: every letter in it is mailed today."""
    permissions.require(permissions.can_work_accounts(actor), "Only agency staff handle the print queue.")
    now = now or timezone.now()
    with transaction.atomic():
        batch = PrintBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.status == PrintBatch.Status.MAILED:
            raise DomainError(f"This batch was marked mailed on {date_text(agency.local_date(batch.mailed_at))}.")
        batch.status, batch.mailed_at, batch.mailed_by = PrintBatch.Status.MAILED, now, actor
        batch.save(update_fields=["status", "mailed_at", "mailed_by"])
        for letter in batch.letters.select_related("account"):
            Letter.objects.filter(pk=letter.pk).update(status=Letter.Status.MAILED, sent_at=now)
            events.letter_recorded(letter.account, summary=f"{letter.get_kind_display()} mailed", at=now)
        audit_record(action="print_batch.mailed", actor=actor, agency=agency, obj=batch,
                     after={"letters": batch.letter_count})
    return batch

