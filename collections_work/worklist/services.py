"""Services for working a debtor account (agency staff): calls, promises, callbacks, emails,
disputes, cease-communication and status changes; and the worklist's timed jobs.

Every contact asks `compliance.contact_decision` first and is refused with its reasons. Every
action marks the account worked (keeping the collector's lease), re-scores it and writes an
audit event, all in one transaction.
"""
import re
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts import permissions
from collections_work.compliance import CONVERSATION_OUTCOMES, contact_decision, opt_out_link
from collections_work.debtor_accounts import actions, events, local_day
from collections_work.debtor_accounts.actions import By, check_not_disputed
from collections_work.debtor_accounts.money import parse_money
from collections_work.debtor_accounts.services import account_add_note
from collections_work.letters.tasks import after_first_contact
from collections_work.models import (
    Activity,
    Callback,
    CallOutcome,
    Contact,
    ContactPolicy,
    Debtor,
    DebtorAccount,
    Dispute,
    EmailTemplate,
    Promise,
    Queue,
    Team,
)
from collections_work.worklist import claim
from portal.audit import audit_record
from portal.emails import email_schedule
from portal.errors import DomainError
from portal.text import date_text
from portal.time_zones import is_region_zone

PROMISE_HORIZON_DAYS = 120
CALLBACK_HORIZON_DAYS = 90
PLACEHOLDERS = ("debtor_name", "reference", "balance", "currency", "client_name", "agency_name")


def _check_staff(actor):
    permissions.require(permissions.can_work_accounts(actor), "Only agency staff work accounts.")


def _check_open(account):
    if account.status not in actions.OPEN_STATUSES:
        raise DomainError(f"This account is {account.get_status_display().lower()}: it is no longer worked.")


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
    claim.account_extend_claim(account, actor, now)
    actions.rescore(account, now)


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
        account = actions.account_lock(account)
        _check_open(account)
        contact = _contact_of(account, contact_id, Contact.Kind.PHONE)
        _refuse_if_blocked(account, "call", contact, now)
        activity = events.call_logged(account, actor=actor, outcome=outcome, outcome_label=CallOutcome(outcome).label,
                                      contact=contact, note=note, at=now)
        Callback.objects.filter(account=account, collector=actor, done_at__isnull=True, due_at__lte=now + timedelta(
            hours=1)).update(done_at=now)
        conversation = outcome in CONVERSATION_OUTCOMES
        if conversation:
            after_first_contact(account)
        _worked(account, actor, now, contact=conversation,
                next_action_at=now + timedelta(hours=settings.WORKLIST_RETRY_HOURS))
        if outcome == CallOutcome.PROMISED:
            promise_record(agency=agency, actor=actor, account=account, amount=promise_amount,
                           due_date=promise_date, now=now)
        elif outcome == CallOutcome.DISPUTED:
            dispute_record(agency=agency, actor=actor, account=account, reason=note, now=now)
        audit_record(action="account.call_logged", actor=actor, agency=agency, client=account.client, obj=account,
                     after={"outcome": outcome, "contact": contact.value if contact else None})
    return activity


def promise_record(*, agency, actor, account, amount, due_date, now=None) -> Promise:
    """A promise to pay by a date (the debtor's date): the account leaves the queues until that
    date begins for the debtor."""
    _check_staff(actor)
    now = now or timezone.now()
    today = local_day.debtor_today(account.debtor_time_zone, now)
    if amount in (None, ""):
        raise DomainError("Enter the amount the debtor promised.", field="promise_amount")
    amount = parse_money(amount, field="promise_amount")
    if due_date is None:
        raise DomainError("Enter the date the debtor promised to pay by.", field="promise_date")
    if not today <= due_date <= today + timedelta(days=PROMISE_HORIZON_DAYS):
        raise DomainError(f"The promise date must be between today ({date_text(today)} where the debtor is) and "
                          f"{PROMISE_HORIZON_DAYS} days from now.", field="promise_date")
    with transaction.atomic():
        account = actions.account_lock(account)
        _check_open(account)
        check_not_disputed(account, "recording a promise")
        if amount > account.balance:
            raise DomainError(f"The promise is more than the balance of {account.balance:,.2f}.", field="promise_amount")
        replaced = list(Promise.objects.filter(account=account, status=Promise.Status.OPEN))
        Promise.objects.filter(pk__in=[p.pk for p in replaced]).update(status=Promise.Status.CANCELLED, resolved_at=now)
        promise = Promise.objects.create(agency_id=account.agency_id, client_id=account.client_id, account=account,
                                         made_by=actor, amount=amount, due_date=due_date, created_at=now)
        events.promise_recorded(account, actor=actor, promise=promise, replaced=replaced, at=now)
        promise.replaced = replaced  # for the confirmation: the promises this one cancelled
        _worked(account, actor, now, contact=True,
                next_action_at=local_day.start_of_day(account.debtor_time_zone, due_date))
        audit_record(action="promise.recorded", actor=actor, agency=agency, client=account.client, obj=promise,
                     after={"amount": str(amount), "due_date": due_date.isoformat()})
    return promise


def promises_mark_broken(now=None) -> list[Promise]:
    """Open promises whose date is over for their debtor (local_day: in the debtor's time zone, in
    every candidate US zone when unknown) and still unpaid become broken; their accounts return to
    a queue."""
    now = now or timezone.now()
    maybe_over = (Promise.objects.filter(status=Promise.Status.OPEN, due_date__lt=local_day.latest_date_anywhere(now))
                  .select_related("account__agency", "account__client"))
    due = [promise for promise in maybe_over
           if local_day.day_has_ended(promise.account.debtor_time_zone, promise.due_date, now)]
    for promise in due:
        with transaction.atomic():
            if Promise.objects.filter(pk=promise.pk, status=Promise.Status.OPEN).update(
                    status=Promise.Status.BROKEN, resolved_at=now) == 0:
                continue  # a payment kept it meanwhile
            account = promise.account
            events.promise_broken(account, promise=promise, at=now)
            DebtorAccount.objects.filter(pk=account.pk).update(next_action_at=None)
            account.next_action_at = None
            actions.rescore(account, now)
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
        account = actions.account_lock(account)
        _check_open(account)
        callback = Callback.objects.create(agency_id=account.agency_id, client_id=account.client_id,
                                           account=account, collector=actor, due_at=due_at, note=note)
        events.callback_scheduled(account, actor=actor, due_at=due_at, note=note, at=now)
        _worked(account, actor, now, next_action_at=due_at)
        audit_record(action="callback.scheduled", actor=actor, agency=agency, client=account.client, obj=callback,
                     after={"due_at": due_at.isoformat()})
    return callback


def debtor_follow_up(*, account, due_at: datetime, note: str, summary: str, now=None) -> Callback:
    """Something the debtor asked for from their secure link (a call back at a time, an answer to
    a plan request): a callback for the account's collector, or for whoever works it when none is
    assigned, due at `due_at` (UTC). The account waits until then, then comes first in its queue
    (a due callback scores high). Returns the callback; the timeline says `summary`."""
    now = now or timezone.now()
    note = (note or "").strip()[:300]
    with transaction.atomic():
        account = actions.account_lock(account)
        callback = Callback.objects.create(agency_id=account.agency_id, client_id=account.client_id, account=account,
                                           collector_id=account.assigned_collector_id, due_at=due_at, note=note)
        events.debtor_request(account, summary=summary, body=note, at=now)
        DebtorAccount.objects.filter(pk=account.pk).update(next_action_at=due_at)
        account.next_action_at = due_at
        actions.rescore(account, now)
        audit_record(action="callback.requested_by_debtor", agency=account.agency, client=account.client,
                     obj=callback, after={"due_at": due_at.isoformat()})
    return callback


def accounts_wake_due(now=None) -> int:
    """Accounts whose waiting time is over go back into their queues with a fresh score."""
    now = now or timezone.now()
    woken = DebtorAccount.objects.filter(next_action_at__lte=now)  # their stored score still says waiting
    ids = list(woken.values_list("pk", flat=True)[:10_000])
    DebtorAccount.objects.filter(pk__in=ids).update(next_action_at=None)
    return actions.accounts_rescore(DebtorAccount.objects.filter(pk__in=ids), now=now) if ids else 0


# --- Email -------------------------------------------------------------------------------------

def render_template_text(text: str, account) -> str:
    """Fill {placeholders}; anything else in braces stays as written."""
    values = {"debtor_name": account.debtor_name, "reference": account.client_reference,
              "balance": f"{account.balance:,.2f}", "currency": account.currency,
              "client_name": account.client.name, "agency_name": account.agency.name}
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), text)


def email_key(activity_id) -> str:
    """The send-log key of the email a timeline entry recorded (worklist.selectors.email_deliveries)."""
    return f"account-email:{activity_id}"


def email_send(*, agency, actor, account, template_id, contact_id, now=None) -> Activity:
    """Email the debtor from an agency template, with a working opt-out link."""
    _check_staff(actor)
    now = now or timezone.now()
    template = EmailTemplate.objects.filter(pk=template_id or None, active=True).first()
    if template is None:
        raise DomainError("Choose an email template.", field="template")
    with transaction.atomic():
        account = actions.account_lock(account)
        _check_open(account)
        contact = _contact_of(account, contact_id, Contact.Kind.EMAIL)
        if contact is None:
            raise DomainError("Choose the email address to write to.", field="contact")
        _refuse_if_blocked(account, "email", contact, now)
        subject, body = render_template_text(template.subject, account), render_template_text(template.body, account)
        activity = events.email_sent(account, actor=actor, contact=contact, subject=subject, body=body, at=now)
        after_first_contact(account)
        email_schedule(key=email_key(activity.pk), to=contact.value, subject=subject, template="debtor_message",
                       context={"body": body, "agency": agency}, secrets={"opt_out_link": opt_out_link(contact)},
                       agency=agency, client=account.client)
        _worked(account, actor, now)
        audit_record(action="account.email_sent", actor=actor, agency=agency, client=account.client, obj=account,
                     after={"template": template.name, "contact": contact.value})
    return activity


def contact_opt_out(*, contact, now=None) -> Contact:
    """The debtor used the opt-out link: no more contact at that address."""
    now = now or timezone.now()
    with transaction.atomic():
        if Contact.objects.filter(pk=contact.pk, opted_out_at__isnull=True).update(opted_out_at=now) == 0:
            return contact
        for account in DebtorAccount.objects.filter(debtor_id=contact.debtor_id):
            events.opted_out(account, contact=contact, at=now)
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
        account = actions.account_lock(account)
        _check_open(account)
        dispute = Dispute.objects.create(agency_id=account.agency_id, client_id=account.client_id, account=account,
                                         reason=reason, opened_by=actor, opened_at=now)
        before = actions.dispute_hold(account, actor=actor, reason=reason, now=now)
        _worked(account, actor, now)
        audit_record(action="dispute.opened", actor=actor, agency=agency, client=account.client, obj=dispute,
                     before={"status": before}, after={"status": account.status, "reason": reason})
    return dispute


def debtor_dispute(*, account, reason: str, validation: bool, now=None) -> Dispute:
    """The debtor disputes the debt, or asks for validation of it, from their secure link: the
    account goes on hold and leaves the queues until staff resolve it (12 CFR 1006.34(c)(4)).
    Raises DomainError for an empty reason or an account no longer collected."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Tell us what you dispute, or what you want us to verify.", field="reason")
    label = "Validation requested by the debtor" if validation else "Disputed by the debtor"
    with transaction.atomic():
        account = actions.account_lock(account)
        _check_open(account)
        dispute = Dispute.objects.create(agency_id=account.agency_id, client_id=account.client_id, account=account,
                                         reason=f"{label}: {reason}"[:2000], opened_at=now)
        before = actions.dispute_hold(account, actor=None, reason=reason, summary=f"{label} online: {reason}", now=now)
        audit_record(action="dispute.opened_by_debtor", agency=account.agency, client=account.client, obj=dispute,
                     before={"status": before}, after={"status": account.status, "validation": validation})
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
        account = actions.account_lock(dispute.account)
        actions.dispute_release(account, actor=actor, resolution=resolution, now=now)
        _worked(account, actor, now)
        audit_record(action="dispute.resolved", actor=actor, agency=agency, client=account.client, obj=dispute,
                     after={"resolution": resolution, "status": account.status})
    return dispute


def cease_record(*, agency, actor, account, note="", now=None) -> DebtorAccount:
    """The debtor asked us to stop contacting them about this account."""
    _check_staff(actor)
    now = now or timezone.now()
    with transaction.atomic():
        account = actions.account_lock(account)
        if account.cease_communication_at is not None:
            raise DomainError("Cease-communication is already recorded on this account.")
        account.cease_communication_at = now
        account.save(update_fields=["cease_communication_at", "updated_at"])
        events.cease_recorded(account, actor=actor, note=(note or "").strip(), at=now)
        _worked(account, actor, now)
        audit_record(action="account.cease_recorded", actor=actor, agency=agency, client=account.client, obj=account)
    return account


STAFF_SET_ZONE = "set by staff"  # placements keep a zone set this way (intake.commit.STAFF_SET)


def debtor_set_time_zone(*, agency, actor, account, time_zone: str) -> Debtor:
    """Staff correct where the debtor of `account` lives: `time_zone` is an IANA region name
    ("Pacific/Honolulu"), or "" for unknown (calls must then fit every US zone). The debtor and
    all its accounts take it (calling hours, "today" for promises), and later placements keep it.
    Raises DomainError for a name that is no region (an abbreviation like "EST" names no place)."""
    _check_staff(actor)
    time_zone = (time_zone or "").strip()
    if time_zone and not is_region_zone(time_zone):
        raise DomainError(f"“{time_zone}” is not a time zone region like America/New_York.", field="time_zone")
    with transaction.atomic():
        debtor = Debtor.objects.select_for_update().get(pk=account.debtor_id)
        before = {"time_zone": debtor.time_zone, "source": debtor.time_zone_source}
        debtor.time_zone, debtor.time_zone_source = time_zone, STAFF_SET_ZONE if time_zone else ""
        debtor.save(update_fields=["time_zone", "time_zone_source"])
        accounts = DebtorAccount.objects.filter(debtor_id=debtor.pk)
        accounts.update(debtor_time_zone=time_zone)
        audit_record(action="debtor.time_zone_set", actor=actor, agency=agency, client=account.client, obj=debtor,
                     before=before, after={"time_zone": time_zone})
        agency_id = agency.pk
        transaction.on_commit(lambda: claim.worklist_accounts_placed(agency_id, accounts))
    return debtor


def staff_status_choices(account) -> list[tuple[str, str]]:
    """The statuses agency staff may move the account to (the kernel's transition table)."""
    return actions.status_choices(account, By.STAFF)


def account_change_status(*, agency, actor, account, status, reason, now=None) -> DebtorAccount:
    _check_staff(actor)
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Give a reason; it goes on the account's timeline.", field="reason")
    with transaction.atomic():
        account = actions.account_lock(account)
        if account.status == DebtorAccount.Status.ON_HOLD and Dispute.objects.filter(
                account=account, resolved_at__isnull=True).exists():
            raise DomainError("Resolve the open dispute first.", field="status")
        before = actions.status_change(account, to=status, by=By.STAFF, actor=actor, reason=reason, now=now)
        _worked(account, actor, now)
        audit_record(action="account.status_changed", actor=actor, agency=agency, client=account.client,
                     obj=account, before={"status": before}, after={"status": status, "reason": reason})
    return account


# --- Managers: queues, teams, templates, the contact policy -------------------------------------

SETTING_MODELS = {"queue": Queue, "team": Team, "template": EmailTemplate}


def worklist_setting_save(*, agency, actor, kind: str, instance=None, **values):
    """Create (instance=None) or change a queue, team or email template (`kind`) from plain field
    values (many-to-many fields as lists of rows), audited; "Next account" sees it at once.

    Raises NotAllowed unless the actor is a manager, DomainError for the default queue (it holds
    every open account and has no rules to change)."""
    permissions.require(permissions.can_manage_worklist(actor), "Only managers change queues, teams and templates.")
    model = SETTING_MODELS[kind]
    instance = instance or model(agency=agency)
    if getattr(instance, "is_default", False):
        raise DomainError("The default queue holds every open account; it cannot be changed.")
    creating = instance.pk is None
    many = {name: rows for name, rows in values.items() if model._meta.get_field(name).many_to_many}
    with transaction.atomic():
        for name, value in values.items():
            if name not in many:
                setattr(instance, name, value)
        instance.agency = agency
        instance.save()
        for name, rows in many.items():
            getattr(instance, name).set(rows)
        transaction.on_commit(lambda: claim.worklist_settings_changed(agency.pk))
        audit_record(action=f"{kind}.{'created' if creating else 'changed'}", actor=actor, agency=agency,
                     obj=instance, after={"name": instance.name})
    return instance


def queue_delete(*, agency, actor, queue) -> None:
    """Delete a manager's queue (its accounts stay in the other queues; the default one is kept)."""
    permissions.require(permissions.can_manage_worklist(actor), "Only managers change queues.")
    if queue.is_default:
        raise DomainError("The default queue holds every open account; it cannot be deleted.")
    with transaction.atomic():
        audit_record(action="queue.deleted", actor=actor, agency=agency, obj=queue, before={"name": queue.name})
        queue.delete()
        transaction.on_commit(lambda: claim.worklist_settings_changed(agency.pk))


CONTACT_POLICY_FIELDS = ("earliest_hour", "latest_hour", "commercial_weekly_call_cap")


def contact_policy_save(*, agency, actor, earliest_hour: int, latest_hour: int,
                        commercial_weekly_call_cap: int | None) -> ContactPolicy:
    """The agency's own contact rules (local hours 0-24, a weekly call cap for commercial
    accounts or None); agency admins only. Raises NotAllowed, DomainError for hours out of order."""
    permissions.require(permissions.can_change_contact_policy(actor), "Only agency admins change the contact policy.")
    if not 0 <= earliest_hour < latest_hour <= 24:
        raise DomainError("The latest hour must come after the earliest (no overnight hours).", field="latest_hour")
    values = {"earliest_hour": earliest_hour, "latest_hour": latest_hour,
              "commercial_weekly_call_cap": commercial_weekly_call_cap}
    with transaction.atomic():
        before = ContactPolicy.objects.filter(agency=agency).values(*CONTACT_POLICY_FIELDS).first()
        policy, _ = ContactPolicy.objects.update_or_create(agency=agency, defaults=values)
        transaction.on_commit(lambda: claim.worklist_settings_changed(agency.pk))
        audit_record(action="contact_policy.changed", actor=actor, agency=agency, obj=policy, before=before,
                     after=values)
    return policy
