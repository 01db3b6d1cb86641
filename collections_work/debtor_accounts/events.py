"""The account's timeline: one function per kind of entry, so each entry is worded in one place.

Each writes one Activity on `account` (inside the caller's transaction) and returns it.
`at` is an aware datetime (UTC in the database), default now. `client_visible` says whether the
client's users see the entry; what the agency does internally (calls, notes, offers being
drafted) stays agency-only by default.
"""
from django.utils import timezone

from collections_work.models import Activity
from portal import rows
from portal.text import date_text

Kind = Activity.Kind


def _record(account, kind, *, summary, actor=None, body="", outcome="", contact=None, client_visible=True, at=None,
            returning=True):
    return rows.insert(Activity(
        agency_id=account.agency_id, client_id=account.client_id, account=account, kind=kind, actor=actor,
        summary=summary[:300], body=body, outcome=outcome, contact=contact, client_visible=client_visible,
        occurred_at=at or timezone.now()), returning=returning)


# --- Notes, messages, documents ----------------------------------------------------------------

def note_added(account, *, actor, text, client_visible, at=None):
    return _record(account, Kind.NOTE, actor=actor, summary="Note: " + text.splitlines()[0], body=text,
                   client_visible=client_visible, at=at)


def message_to_agency(account, *, actor, text, at=None):
    return _record(account, Kind.MESSAGE, actor=actor, summary="Message to the agency: " + text.splitlines()[0],
                   body=text, client_visible=True, at=at)


def document_added(account, *, actor, document, client_visible, at=None):
    return _record(account, Kind.DOCUMENT, actor=actor, summary=f"Document added: {document.name}",
                   client_visible=client_visible, at=at)


# --- Status --------------------------------------------------------------------------------------

def status_changed(account, *, actor, summary, body="", client_visible=True, at=None):
    """A status change; the kernel (actions.status_change) words the summary from its table."""
    return _record(account, Kind.STATUS, actor=actor, summary=summary, body=body, client_visible=client_visible, at=at)


def cease_recorded(account, *, actor, note, at=None):
    return _record(account, Kind.STATUS, actor=actor, summary="The debtor asked us to stop contacting them",
                   body=note, at=at)


def opted_out(account, *, contact, at=None):
    return _record(account, Kind.NOTE, summary=f"The debtor opted out of contact at {contact.value}", at=at)


# --- Contact with the debtor ---------------------------------------------------------------------

def call_logged(account, *, actor, outcome, outcome_label, contact, note, at=None):
    return _record(account, Kind.CALL, actor=actor, outcome=outcome, contact=contact, body=note, client_visible=False,
                   summary=f"Call{' to ' + contact.value if contact else ''}: {outcome_label}", at=at)


def email_sent(account, *, actor, contact, subject, body, at=None):
    return _record(account, Kind.EMAIL, actor=actor, contact=contact, summary=f"Email to {contact.value}: {subject}",
                   body=body, at=at)


def message_held(account, *, summary, at=None):
    """A scheduled message to the debtor deferred or cancelled by the contact policy (agency only)."""
    return _record(account, Kind.EMAIL, summary=summary, client_visible=False, at=at)


def callback_scheduled(account, *, actor, due_at, note, at=None):
    return _record(account, Kind.CALLBACK, actor=actor, body=note, client_visible=False, at=at,
                   summary=f"Callback scheduled for {date_text(timezone.localtime(due_at), '%b %d, %Y %H:%M')}")


def debtor_request(account, *, summary, body="", at=None):
    """Something the debtor asked for from their secure link (a call back, a plan, an opt-out)."""
    return _record(account, Kind.CALLBACK, summary=summary, body=body, at=at)


def letter_recorded(account, *, summary, at=None):
    """A letter made, emailed or mailed (the validation notice, ...)."""
    return _record(account, Kind.LETTER, summary=summary, at=at)


# --- Promises to pay -----------------------------------------------------------------------------

def promise_recorded(account, *, actor, promise, replaced, at=None):
    summary = f"Promise to pay {promise.amount:,.2f} {account.currency} by {date_text(promise.due_date)}"
    if replaced:  # one open promise at a time: say which one this one replaces
        summary += "; replaces " + ", ".join(f"{p.amount:,.2f} by {date_text(p.due_date, '%b %d')}" for p in replaced)
    return _record(account, Kind.PROMISE, actor=actor, summary=summary, at=at)


def promise_kept(account, *, promise, at=None):
    return _record(account, Kind.PROMISE, at=at,
                   summary=f"Promise kept: {promise.paid_amount:,.2f} of {promise.amount:,.2f} paid")


def promise_broken(account, *, promise, at=None):
    return _record(account, Kind.PROMISE, at=at,
                   summary=f"Promise broken: {promise.paid_amount:,.2f} of {promise.amount:,.2f} "
                           f"paid by {date_text(promise.due_date)}")


# --- Money ---------------------------------------------------------------------------------------

def payment_recorded(account, *, actor, summary, body="", at=None):
    """A payment (or reversal) on the account; the payments app words the summary. Inside a
    payment post's batch (portal.rows.batched) the entry is written with the post's other rows
    and its id is not read back."""
    return _record(account, Kind.PAYMENT, actor=actor, summary=summary, body=body, at=at, returning=False)


def offer_recorded(account, *, actor, summary, client_visible=False, at=None):
    """A step of a payment-plan or settlement offer (drafted, approved, sent, accepted...)."""
    return _record(account, Kind.OFFER, actor=actor, summary=summary, client_visible=client_visible, at=at)
