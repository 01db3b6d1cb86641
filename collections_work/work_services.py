"""Services for working a debtor account (agency staff): calls, promises, callbacks, emails,
disputes, cease-communication and status changes; and the worklist's timed jobs.

Every contact asks `compliance.contact_decision` first and is refused with its reasons. Every
action marks the account worked (keeping the collector's lease), re-scores it and writes an
audit event, all in one transaction.
"""
import re
from datetime import datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import STAFF_ROLES, Role
from collections_work import scoring, worklist
from collections_work.compliance import CONVERSATION_OUTCOMES, contact_decision
from collections_work.services import account_add_note
from collections_work.models import (
    Activity,
    Callback,
    CallOutcome,
    Contact,
    ContactPolicy,
    DebtorAccount,
    Dispute,
    EmailTemplate,
    Promise,
)
from portal.audit import audit_record
from portal.emails import email_schedule
from portal.errors import DomainError, NotAllowed

CENTS = Decimal("0.01")
PROMISE_HORIZON_DAYS = 120
CALLBACK_HORIZON_DAYS = 90
OPT_OUT_SALT = "collections_work.contact-opt-out"
PLACEHOLDERS = ("debtor_name", "reference", "balance", "currency", "client_name", "agency_name")
DISPUTE_HOLD_PREFIX = "Disputed"
MANAGER_ROLES = {Role.AGENCY_ADMIN, Role.MANAGER}


def _check_staff(actor):
    membership = getattr(actor, "membership", None)
    if membership is None or membership.role not in STAFF_ROLES:
        raise NotAllowed("Only agency staff work accounts.")


def _check_open(account):
    if account.status not in worklist.OPEN_STATUSES and account.status != DebtorAccount.Status.ON_HOLD:
        raise DomainError(f"This account is {account.get_status_display().lower()}: it is no longer worked.")


def check_not_disputed(account, doing: str):
    """Collection pauses while the debtor disputes the debt (it resumes when the dispute is resolved)."""
    if Dispute.objects.filter(account=account, resolved_at__isnull=True).exists():
        raise DomainError(f"The debtor disputes this debt: resolve the dispute before {doing}.")


def _locked(account) -> DebtorAccount:
    return DebtorAccount.objects.select_related("debtor", "client").select_for_update(of=("self",)).get(pk=account.pk)


def _activity(account, *, kind, actor, summary, body="", outcome="", contact=None, client_visible=False, now=None):
    return Activity.objects.create(
        agency_id=account.agency_id, client_id=account.client_id, account=account, kind=kind, actor=actor,
        summary=summary[:300], body=body, outcome=outcome, contact=contact, client_visible=client_visible,
        occurred_at=now or timezone.now())


def _worked(account, actor, now, *, next_action_at=None, contact=False):
    """Mark the account worked: it keeps the collector's lease and waits until `next_action_at`."""
    fields = {"last_worked_at": now}
    if contact:
        fields["last_contact_at"] = now
    if next_action_at is not None:
        fields["next_action_at"] = next_action_at
    for name, value in fields.items():
        setattr(account, name, value)
    DebtorAccount.objects.filter(pk=account.pk).update(**fields)
    worklist.account_extend_claim(account, actor, now)
    scoring.account_rescore(account, now=now)


def _refuse_if_blocked(account, channel, contact, now):
    decision = contact_decision(account=account, channel=channel, contact=contact, at=now)
    if not decision:
        raise DomainError(" ".join(decision.reasons), field="contact" if contact is not None else None)


def _contact_of(account, contact_id, kind):
    if contact_id in (None, ""):
        return None
    contact = Contact.objects.filter(pk=contact_id, debtor_id=account.debtor_id, kind=kind).first()
    if contact is None:
        raise DomainError(f"Choose one of the debtor's {Contact.Kind(kind).label.lower()}s.", field="contact")
    return contact


def _money(value, field) -> Decimal:
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise DomainError("Enter an amount like 125.50.", field=field) from None
    if not amount.is_finite() or amount <= 0:
        raise DomainError("The amount must be more than zero.", field=field)
    if amount.quantize(CENTS, rounding=ROUND_HALF_UP) != amount:
        raise DomainError("Enter dollars and cents (at most two decimals).", field=field)
    return amount


def _start_of(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def note_add(*, agency, actor, account, text, now=None) -> Activity:
    """An internal note from the workspace; it counts as working the account."""
    now = now or timezone.now()
    with transaction.atomic():
        activity = account_add_note(agency=agency, actor=actor, account=account, text=text, client_visible=False)
        _worked(account, actor, now)
    return activity


# --- Calls and promises ------------------------------------------------------------------------

def call_log(*, agency, actor, account, outcome, contact_id=None, note="", promise_amount=None,
             promise_date=None, now=None) -> Activity:
    """Log a call. "Promised" records the promise with it; "Disputed" opens a dispute."""
    _check_staff(actor)
    now = now or timezone.now()
    if outcome not in CallOutcome.values:
        raise DomainError("Choose the call's outcome.", field="outcome")
    note = (note or "").strip()
    if outcome == CallOutcome.DISPUTED and not note:
        raise DomainError("Write down what the debtor disputes.", field="note")
    with transaction.atomic():
        account = _locked(account)
        _check_open(account)
        contact = _contact_of(account, contact_id, Contact.Kind.PHONE)
        _refuse_if_blocked(account, "call", contact, now)
        label = CallOutcome(outcome).label
        activity = _activity(account, kind=Activity.Kind.CALL, actor=actor, outcome=outcome, contact=contact,
                             summary=f"Call{' to ' + contact.value if contact else ''}: {label}", body=note, now=now)
        Callback.objects.filter(account=account, collector=actor, done_at__isnull=True, due_at__lte=now + timedelta(
            hours=1)).update(done_at=now)
        conversation = outcome in CONVERSATION_OUTCOMES
        _worked(account, actor, now, contact=conversation,
                next_action_at=now + timedelta(hours=settings.WORKLIST_RETRY_HOURS))
        if outcome == CallOutcome.PROMISED:
            promise_record(agency=agency, actor=actor, account=account, amount=promise_amount,
                           due_date=promise_date, now=now)
        elif outcome == CallOutcome.DISPUTED:
            dispute_record(agency=agency, actor=actor, account=account, reason=note, now=now)
        audit_record(action="account.call_logged", actor=actor, agency=agency, client=account.client, obj=account,
                     after={"outcome": outcome, "contact": contact.pk if contact else None})
    return activity


def promise_record(*, agency, actor, account, amount, due_date, now=None) -> Promise:
    """A promise to pay: the account leaves the queues until the promise date."""
    _check_staff(actor)
    now = now or timezone.now()
    today = timezone.localdate(now)
    if amount in (None, ""):
        raise DomainError("Enter the amount the debtor promised.", field="promise_amount")
    amount = _money(amount, "promise_amount")
    if due_date is None:
        raise DomainError("Enter the date the debtor promised to pay by.", field="promise_date")
    if not today <= due_date <= today + timedelta(days=PROMISE_HORIZON_DAYS):
        raise DomainError(f"The promise date must be between today and {PROMISE_HORIZON_DAYS} days from now.",
                          field="promise_date")
    with transaction.atomic():
        account = _locked(account)
        _check_open(account)
        check_not_disputed(account, "recording a promise")
        if amount > account.balance:
            raise DomainError(f"The promise is more than the balance of {account.balance:,.2f}.", field="promise_amount")
        replaced = list(Promise.objects.filter(account=account, status=Promise.Status.OPEN))
        Promise.objects.filter(pk__in=[p.pk for p in replaced]).update(status=Promise.Status.CANCELLED, resolved_at=now)
        promise = Promise.objects.create(agency_id=account.agency_id, client_id=account.client_id, account=account,
                                         made_by=actor, amount=amount, due_date=due_date, created_at=now)
        summary = f"Promise to pay {amount:,.2f} {account.currency} by {due_date:%b %d, %Y}"
        if replaced:  # one open promise at a time: say which one this one replaces
            summary += "; replaces " + ", ".join(f"{p.amount:,.2f} by {p.due_date:%b %d}" for p in replaced)
        _activity(account, kind=Activity.Kind.PROMISE, actor=actor, client_visible=True, now=now, summary=summary)
        promise.replaced = replaced  # for the confirmation: the promises this one cancelled
        _worked(account, actor, now, contact=True, next_action_at=_start_of(due_date))
        audit_record(action="promise.recorded", actor=actor, agency=agency, client=account.client, obj=promise,
                     after={"amount": str(amount), "due_date": due_date.isoformat()})
    return promise


def promises_apply_payment(*, account, amount: Decimal, now=None):
    """Count a payment towards the account's open promise; returns the collector to credit
    (the promise's maker, else the account's collector). Called inside the payment's transaction."""
    now = now or timezone.now()
    promise = Promise.objects.filter(account=account, status=Promise.Status.OPEN).order_by("created_at").first()
    if promise is None:
        return account.assigned_collector
    promise.paid_amount += amount
    fields = ["paid_amount"]
    if promise.paid_amount >= promise.amount:
        promise.status, promise.resolved_at = Promise.Status.KEPT, now
        fields += ["status", "resolved_at"]
        _activity(account, kind=Activity.Kind.PROMISE, actor=None, client_visible=True, now=now,
                  summary=f"Promise kept: {promise.paid_amount:,.2f} of {promise.amount:,.2f} paid")
    promise.save(update_fields=fields)
    return promise.made_by


def promises_mark_broken(now=None) -> list[Promise]:
    """Open promises whose date has passed unpaid become broken; their accounts return to a queue."""
    now = now or timezone.now()
    due = list(Promise.objects.filter(status=Promise.Status.OPEN, due_date__lt=timezone.localdate(now))
               .select_related("account__agency", "account__client"))
    for promise in due:
        with transaction.atomic():
            if Promise.objects.filter(pk=promise.pk, status=Promise.Status.OPEN).update(
                    status=Promise.Status.BROKEN, resolved_at=now) == 0:
                continue  # a payment kept it meanwhile
            account = promise.account
            _activity(account, kind=Activity.Kind.PROMISE, actor=None, client_visible=True, now=now,
                      summary=f"Promise broken: {promise.paid_amount:,.2f} of {promise.amount:,.2f} "
                              f"paid by {promise.due_date:%b %d, %Y}")
            DebtorAccount.objects.filter(pk=account.pk).update(next_action_at=None)
            account.next_action_at = None
            scoring.account_rescore(account, now=now)
            audit_record(action="promise.broken", agency=account.agency, client=account.client, obj=promise)
    return due


# --- Callbacks ---------------------------------------------------------------------------------

def callback_schedule(*, agency, actor, account, due_at: datetime, note="", now=None) -> Callback:
    """The account comes back to this collector, first in their queue, at `due_at`."""
    _check_staff(actor)
    now = now or timezone.now()
    if due_at is None or due_at <= now:
        raise DomainError("Choose a time in the future.", field="due_at")
    if due_at > now + timedelta(days=CALLBACK_HORIZON_DAYS):
        raise DomainError(f"Schedule callbacks at most {CALLBACK_HORIZON_DAYS} days ahead.", field="due_at")
    note = (note or "").strip()[:300]
    with transaction.atomic():
        account = _locked(account)
        _check_open(account)
        callback = Callback.objects.create(agency_id=account.agency_id, client_id=account.client_id,
                                           account=account, collector=actor, due_at=due_at, note=note)
        _activity(account, kind=Activity.Kind.CALLBACK, actor=actor, now=now, body=note,
                  summary=f"Callback scheduled for {timezone.localtime(due_at):%b %d, %Y %H:%M}")
        _worked(account, actor, now, next_action_at=due_at)
        audit_record(action="callback.scheduled", actor=actor, agency=agency, client=account.client, obj=callback,
                     after={"due_at": due_at.isoformat()})
    return callback


def accounts_wake_due(now=None) -> int:
    """Accounts whose waiting time is over go back into their queues with a fresh score."""
    now = now or timezone.now()
    woken = scoring.waking_accounts(now)
    ids = list(woken.values_list("pk", flat=True)[:10_000])
    DebtorAccount.objects.filter(pk__in=ids).update(next_action_at=None)
    return scoring.accounts_rescore(DebtorAccount.objects.filter(pk__in=ids), now=now) if ids else 0


# --- Email -------------------------------------------------------------------------------------

def opt_out_token(contact) -> str:
    return signing.dumps({"c": contact.pk, "a": contact.agency_id}, salt=OPT_OUT_SALT, compress=True)


def opt_out_link(contact) -> str:
    return settings.SITE_URL + reverse("contact_opt_out", args=[opt_out_token(contact)])


def read_opt_out_token(token) -> dict | None:
    try:
        return signing.loads(token, salt=OPT_OUT_SALT)
    except signing.BadSignature:
        return None


def render_template_text(text: str, account) -> str:
    """Fill {placeholders}; anything else in braces stays as written."""
    values = {"debtor_name": account.debtor_name, "reference": account.client_reference,
              "balance": f"{account.balance:,.2f}", "currency": account.currency,
              "client_name": account.client.name, "agency_name": account.agency.name}
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), text)


def email_send(*, agency, actor, account, template_id, contact_id, now=None) -> Activity:
    """Email the debtor from an agency template, with a working opt-out link."""
    _check_staff(actor)
    now = now or timezone.now()
    template = EmailTemplate.objects.filter(pk=template_id or None, active=True).first()
    if template is None:
        raise DomainError("Choose an email template.", field="template")
    with transaction.atomic():
        account = _locked(account)
        _check_open(account)
        contact = _contact_of(account, contact_id, Contact.Kind.EMAIL)
        if contact is None:
            raise DomainError("Choose the email address to write to.", field="contact")
        _refuse_if_blocked(account, "email", contact, now)
        subject, body = render_template_text(template.subject, account), render_template_text(template.body, account)
        activity = _activity(account, kind=Activity.Kind.EMAIL, actor=actor, contact=contact, now=now,
                             summary=f"Email to {contact.value}: {subject}", body=body, client_visible=True)
        email_schedule(key=f"account-email:{activity.pk}", to=contact.value, subject=subject, template="debtor_message",
                       context={"body": body, "agency": agency}, secrets={"opt_out_link": opt_out_link(contact)},
                       agency=agency, client=account.client)
        _worked(account, actor, now)
        audit_record(action="account.email_sent", actor=actor, agency=agency, client=account.client, obj=account,
                     after={"template": template.name, "contact": contact.pk})
    return activity


def contact_opt_out(*, contact, now=None) -> Contact:
    """The debtor used the opt-out link: no more contact at that address."""
    now = now or timezone.now()
    with transaction.atomic():
        if Contact.objects.filter(pk=contact.pk, opted_out_at__isnull=True).update(opted_out_at=now) == 0:
            return contact
        for account in DebtorAccount.objects.filter(debtor_id=contact.debtor_id):
            _activity(account, kind=Activity.Kind.NOTE, actor=None, client_visible=True, now=now,
                      summary=f"The debtor opted out of contact at {contact.value}")
        audit_record(action="contact.opted_out", agency=contact.agency, client=contact.client, obj=contact)
    contact.opted_out_at = now
    return contact


# --- Disputes, cease-communication, status ------------------------------------------------------

def dispute_record(*, agency, actor, account, reason, now=None) -> Dispute:
    """A dispute puts the account on hold until it is resolved; nobody contacts the debtor meanwhile."""
    _check_staff(actor)
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Write down what the debtor disputes.", field="reason")
    with transaction.atomic():
        account = _locked(account)
        _check_open(account)
        dispute = Dispute.objects.create(agency_id=account.agency_id, client_id=account.client_id, account=account,
                                         reason=reason, opened_by=actor, opened_at=now)
        before = account.status
        account.status, account.hold_reason = DebtorAccount.Status.ON_HOLD, f"{DISPUTE_HOLD_PREFIX}: {reason}"[:200]
        account.save(update_fields=["status", "hold_reason", "updated_at"])
        _activity(account, kind=Activity.Kind.STATUS, actor=actor, client_visible=True, now=now,
                  summary=f"Disputed by the debtor: {reason}"[:300])
        _worked(account, actor, now)
        audit_record(action="dispute.opened", actor=actor, agency=agency, client=account.client, obj=dispute,
                     before={"status": before}, after={"status": account.status, "reason": reason})
    return dispute


def dispute_resolve(*, agency, actor, dispute, resolution, now=None) -> Dispute:
    _check_staff(actor)
    now = now or timezone.now()
    resolution = (resolution or "").strip()
    if not resolution:
        raise DomainError("Write down how the dispute was resolved.", field="resolution")
    with transaction.atomic():
        dispute = Dispute.objects.select_for_update().get(pk=dispute.pk)
        if dispute.resolved_at is not None:
            raise DomainError("This dispute is already resolved.")
        dispute.resolved_at, dispute.resolution = now, resolution
        dispute.save(update_fields=["resolved_at", "resolution"])
        account = _locked(dispute.account)
        still_disputed = Dispute.objects.filter(account=account, resolved_at__isnull=True).exists()
        if account.hold_reason.startswith(DISPUTE_HOLD_PREFIX) and not still_disputed:
            account.status, account.hold_reason = DebtorAccount.Status.ACTIVE, ""
            account.save(update_fields=["status", "hold_reason", "updated_at"])
        _activity(account, kind=Activity.Kind.STATUS, actor=actor, client_visible=True, now=now,
                  summary=f"Dispute resolved: {resolution}"[:300])
        _worked(account, actor, now)
        audit_record(action="dispute.resolved", actor=actor, agency=agency, client=account.client, obj=dispute,
                     after={"resolution": resolution, "status": account.status})
    return dispute


def cease_record(*, agency, actor, account, note="", now=None) -> DebtorAccount:
    """The debtor asked us to stop contacting them about this account."""
    _check_staff(actor)
    now = now or timezone.now()
    with transaction.atomic():
        account = _locked(account)
        if account.cease_communication_at is not None:
            raise DomainError("Cease-communication is already recorded on this account.")
        account.cease_communication_at = now
        account.save(update_fields=["cease_communication_at", "updated_at"])
        _activity(account, kind=Activity.Kind.STATUS, actor=actor, client_visible=True, now=now,
                  summary="The debtor asked us to stop contacting them", body=(note or "").strip())
        _worked(account, actor, now)
        audit_record(action="account.cease_recorded", actor=actor, agency=agency, client=account.client, obj=account)
    return account


# Staff status changes: the new status -> the statuses it may follow. Recalled and paid accounts
# are the client's and the payments' business, not a collector's.
STAFF_TRANSITIONS = {
    DebtorAccount.Status.ACTIVE: {DebtorAccount.Status.NEW, DebtorAccount.Status.ON_HOLD, DebtorAccount.Status.CLOSED},
    DebtorAccount.Status.ON_HOLD: {DebtorAccount.Status.NEW, DebtorAccount.Status.ACTIVE},
    DebtorAccount.Status.CLOSED: {DebtorAccount.Status.NEW, DebtorAccount.Status.ACTIVE, DebtorAccount.Status.ON_HOLD},
}


def staff_status_choices(account) -> list[tuple[str, str]]:
    return [(status, DebtorAccount.Status(status).label) for status, after in STAFF_TRANSITIONS.items()
            if account.status in after]


def account_change_status(*, agency, actor, account, status, reason, now=None) -> DebtorAccount:
    _check_staff(actor)
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Give a reason; it goes on the account's timeline.", field="reason")
    with transaction.atomic():
        account = _locked(account)
        if status not in STAFF_TRANSITIONS or account.status not in STAFF_TRANSITIONS[status]:
            raise DomainError(f"An account that is {account.get_status_display().lower()} cannot move to "
                              f"“{DebtorAccount.Status(status).label if status in DebtorAccount.Status.values else status}”.",
                              field="status")
        if account.status == DebtorAccount.Status.ON_HOLD and Dispute.objects.filter(
                account=account, resolved_at__isnull=True).exists():
            raise DomainError("Resolve the open dispute first.", field="status")
        before = account.status
        account.status = status
        account.hold_reason = reason[:200] if status == DebtorAccount.Status.ON_HOLD else ""
        account.save(update_fields=["status", "hold_reason", "updated_at"])
        _activity(account, kind=Activity.Kind.STATUS, actor=actor, client_visible=True, now=now,
                  summary=f"Status: {DebtorAccount.Status(before).label} → {account.get_status_display()}: {reason}")
        _worked(account, actor, now)
        audit_record(action="account.status_changed", actor=actor, agency=agency, client=account.client,
                     obj=account, before={"status": before}, after={"status": status, "reason": reason})
    return account


# --- Managers: queues, teams, templates -----------------------------------------------------------

def worklist_setting_save(*, agency, actor, form, kind: str):
    """Save a manager's queue, team or email template form (a validated ModelForm), audited."""
    membership = getattr(actor, "membership", None)
    if membership is None or membership.role not in MANAGER_ROLES:
        raise NotAllowed("Only managers change queues, teams and templates.")
    if getattr(form.instance, "is_default", False):
        raise DomainError("The default queue holds every open account; it cannot be changed.")
    creating = form.instance.pk is None
    with transaction.atomic():
        form.instance.agency = agency
        saved = form.save()
        transaction.on_commit(lambda: worklist.worklist_settings_changed(agency.pk))
        audit_record(action=f"{kind}.{'created' if creating else 'changed'}", actor=actor, agency=agency, obj=saved,
                     after={"name": saved.name})
    return saved


def queue_delete(*, agency, actor, queue) -> None:
    membership = getattr(actor, "membership", None)
    if membership is None or membership.role not in MANAGER_ROLES:
        raise NotAllowed("Only managers change queues.")
    if queue.is_default:
        raise DomainError("The default queue holds every open account; it cannot be deleted.")
    with transaction.atomic():
        audit_record(action="queue.deleted", actor=actor, agency=agency, obj=queue, before={"name": queue.name})
        queue.delete()
        transaction.on_commit(lambda: worklist.worklist_settings_changed(agency.pk))


def contact_policy_save(*, agency, actor, form):
    """The agency's own contact rules (a validated ContactPolicyForm); agency admins only."""
    membership = getattr(actor, "membership", None)
    if membership is None or membership.role != Role.AGENCY_ADMIN:
        raise NotAllowed("Only agency admins change the contact policy.")
    with transaction.atomic():
        before = ContactPolicy.objects.filter(agency=agency).values(*form.Meta.fields).first()
        form.instance.agency = agency
        policy = form.save()
        transaction.on_commit(lambda: worklist.worklist_settings_changed(agency.pk))
        audit_record(action="contact_policy.changed", actor=actor, agency=agency, obj=policy, before=before,
                     after={name: getattr(policy, name) for name in form.Meta.fields})
    return policy
