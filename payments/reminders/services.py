"""The daily plan steps and promise reminders (beat, hourly; each run is safe to repeat).

Per agency (PlanStepSettings), for every installment of a current plan that is not paid:
  - a reminder `reminder_days_before` days before its due date,
  - a notice on the due date,
  - a late notice `late_notice_grace_days` after the due date;
then installments whose day is over are missed (plans_mark_missed: the account returns to the
queues), and a plan with `broken_after_missed` missed, unpaid installments is broken: the account
leaves its plan for the queues, its timeline says why, and the client sees "Plan broken". A plan
whose installments are all paid is completed when the payment is posted (payments/posting).
Promises to pay get a reminder the day before they are due.

Days are the debtor's (collections_work/debtor_accounts/local_day.py), and a day's messages are
made from MORNING_HOUR of the debtor's day on (so they are not made at midnight to wait for
morning). Each message is recorded under its exactly-once key (portal.emails.send_key:
kind, object, due date) before it goes out, so repeated runs, two beat schedulers or a
redelivered task never send it twice; the worker asks the contact policy again before it sends
(defer or cancel, with the reason on the timeline).
"""
import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from collections_work.debtor_accounts import actions, events
from collections_work.debtor_accounts.actions import By
from collections_work.debtor_accounts.local_day import debtor_today, latest_date_anywhere
from collections_work.models import Activity, Contact, DebtorAccount, Promise
from collections_work.compliance import opt_out_link_for_token, opt_out_token
from payments.links.services import links_make_many
from payments.models import Installment, PaymentPlan, PlanStepSettings
from payments.plans.services import plans_mark_missed
from portal.audit import audit_record
from portal.emails import emails_hand_off, emails_record, send_key
from portal.text import date_text

# A debtor's day counts from this local hour for the day's messages (inside every contact window).
MORNING_HOUR = 9
# A run that was down for a while still sends a late notice up to this many days late.
LATE_NOTICE_WINDOW_DAYS = 3
# A run's lock lasts at most this long (seconds) should its process die without releasing it.
RUN_LOCK_SECONDS = 15 * 60
# Installments looked at per transaction.
BATCH = 1000

REMINDER, DUE, LATE, PROMISE = "installment_reminder", "installment_due", "installment_late", "promise_reminder"


def step_day(zone: str, now: datetime) -> date:
    """The debtor's date for the day's messages: their today once it is MORNING_HOUR there (in
    every candidate zone when the zone is unknown), the day before until then."""
    return debtor_today(zone, now - timedelta(hours=MORNING_HOUR))


@dataclass(frozen=True)
class Step:
    kind: str
    subject: str
    lines: tuple[str, ...]


def installment_step(installment, settings: PlanStepSettings, day: date) -> Step | None:
    """The message an unpaid installment gets on the debtor's `day`, if any."""
    due, amount = installment.due_date, f"{installment.remaining:,.2f}"
    currency = installment.plan.account.currency
    when = f"{due:%B} {due.day}, {due.year}"
    if settings.reminder_days_before and (due - day).days == settings.reminder_days_before:
        return Step(REMINDER, f"Payment reminder: {amount} {currency} due {when}",
                    (f"This is a reminder that installment #{installment.number} of your payment plan, "
                     f"{amount} {currency}, is due on {when}.",))
    if settings.due_today_notice and due == day:
        return Step(DUE, f"Your payment of {amount} {currency} is due today",
                    (f"Installment #{installment.number} of your payment plan, {amount} {currency}, is due today, {when}.",))
    grace = max(settings.late_notice_grace_days, 1)
    if grace <= (day - due).days <= grace + LATE_NOTICE_WINDOW_DAYS:
        return Step(LATE, f"Your payment of {amount} {currency} is late",
                    (f"We have not received installment #{installment.number} of your payment plan, "
                     f"{amount} {currency}, due on {when}.",
                     "Please pay as soon as you can to keep your plan. If you have paid already, thank you: "
                     "please ignore this message."))
    return None


def plan_steps_run(*, agency_id, now: datetime | None = None) -> dict:
    """Every plan step of one agency (its tenant scope open), in order: messages, missed
    installments, broken plans. Returns {step: how many}."""
    now = now or timezone.now()
    settings = PlanStepSettings.for_agency(agency_id)
    with run_alone(f"plan-steps:{agency_id}") as alone:
        if not alone:  # another scheduler's run is at it: its keys and ours are the same
            return {"skipped": 1}
        counts = installment_messages(settings, now)
        counts["missed"] = plans_mark_missed(now)
        counts["broken"] = plans_break(settings, now)
    return counts


@contextmanager
def run_alone(name: str, seconds: int = RUN_LOCK_SECONDS):
    """Yields False when another process runs `name` now (a cache lock, Redis in production).
    Only saves the second run's work: correctness never depends on it, the exactly-once keys
    hold without it (a lock lost with its process expires after `seconds`)."""
    key = f"run-alone:{name}"
    try:
        taken = cache.add(key, os.getpid(), timeout=seconds)
    except Exception:  # noqa: BLE001 - no cache: run anyway, the keys keep it exactly once
        taken = True
    try:
        yield taken
    finally:
        if taken:
            try:
                cache.delete(key)
            except Exception:  # noqa: BLE001
                pass


def _first_emails(debtor_ids) -> dict[int, Contact]:
    """Each debtor's first email address that has not opted out."""
    found = {}
    for contact in (Contact.objects.filter(debtor_id__in=set(debtor_ids), kind=Contact.Kind.EMAIL,
                                           opted_out_at__isnull=True).order_by("-id")):
        found[contact.debtor_id] = contact
    return found


def installment_messages(settings: PlanStepSettings, now: datetime) -> dict:
    """Record and hand over today's reminders, due-today and late notices (see installment_step)."""
    latest = latest_date_anywhere(now)
    grace = max(settings.late_notice_grace_days, 1)
    candidates = (Installment.objects
                  .filter(plan__status=PaymentPlan.Status.CURRENT, paid_amount__lt=F("amount"),
                          due_date__gte=latest - timedelta(days=grace + LATE_NOTICE_WINDOW_DAYS + 1),
                          due_date__lte=latest + timedelta(days=settings.reminder_days_before))
                  .select_related("plan__account__agency", "plan__account__client").order_by("pk"))
    counts = {REMINDER: 0, DUE: 0, LATE: 0, "no_email": 0}
    after = 0
    while True:
        chunk = list(candidates.filter(pk__gt=after)[:BATCH])
        if not chunk:
            return counts
        after = chunk[-1].pk
        with transaction.atomic():
            _installment_chunk(chunk, settings, now, counts)


def _installment_chunk(chunk, settings, now, counts):
    steps = []
    for installment in chunk:
        account = installment.plan.account
        step = installment_step(installment, settings, step_day(account.debtor_time_zone, now))
        if step is not None:
            steps.append((installment, step, send_key(step.kind.replace("_", "-"), installment, installment.due_date)))
    _send(steps, now, counts)


def _send(steps, now, counts):
    """Drafts for `steps` [(object with .account or .plan.account, Step, key)]: recorded at once,
    a timeline entry each, handed to the worker after commit."""
    from portal.models import OutboundEmail
    from portal.tenancy import unscoped

    with unscoped():
        known = set(OutboundEmail.objects.filter(idempotency_key__in=[key for _o, _s, key in steps])
                    .values_list("idempotency_key", flat=True))
    steps = [(obj, step, key) for obj, step, key in steps if key not in known]
    if not steps:
        return
    accounts = [getattr(obj, "account", None) or obj.plan.account for obj, _s, _k in steps]
    emails = _first_emails(account.debtor_id for account in accounts)
    drafts, timeline, reachable = [], [], []
    for (obj, step, key), account in zip(steps, accounts):
        contact = emails.get(account.debtor_id)
        if contact is None:
            counts["no_email"] += 1
            continue
        reachable.append((step, key, account, contact))
    urls = links_make_many(pairs=[(account, contact.value) for _s, _k, account, contact in reachable],
                           channel="email", now=now)
    opt_out_pattern = opt_out_link_for_token("TOKEN")  # one reverse() for the batch
    for (step, key, account, contact), url in zip(reachable, urls):
        drafts.append({"key": key, "to": contact.value, "subject": step.subject, "template": "debtor_reminder",
                       "agency": account.agency, "client": account.client, "account": account, "kind": step.kind,
                       "context": {"account": account, "agency": account.agency, "lines": step.lines,
                                   "consumer": account.debt_purpose != "commercial"},
                       "secrets": {"link": url,
                                   "opt_out_link": opt_out_pattern.replace("TOKEN", opt_out_token(contact))}})
        timeline.append(Activity(agency_id=account.agency_id, client_id=account.client_id, account=account,
                                 kind=Activity.Kind.EMAIL, summary=f"{step.subject} (emailed to {contact.value})"[:300],
                                 contact=contact, client_visible=False, occurred_at=now))
        counts[step.kind] += 1
    ids = emails_record(drafts)
    Activity.objects.bulk_create(timeline, batch_size=1000)
    emails_hand_off(ids, accounts[0].agency_id)


def plans_break(settings: PlanStepSettings, now: datetime) -> int:
    """Current plans with `broken_after_missed` (or more) missed, unpaid installments are broken:
    the plan ends with the reason, the account returns to the queues (from its plan status), and
    the timeline, which the client sees, says "Plan broken" and which installments. Returns how
    many plans were broken."""
    limit = max(settings.broken_after_missed, 1)
    missed = Q(installments__missed_at__isnull=False, installments__paid_amount__lt=F("installments__amount"))
    plans = (PaymentPlan.objects.filter(status=PaymentPlan.Status.CURRENT)
             .annotate(missed=Count("installments", filter=missed)).filter(missed__gte=limit).values_list("pk", flat=True))
    broken = 0
    for plan_id in list(plans):
        with transaction.atomic():
            plan = PaymentPlan.objects.select_for_update().get(pk=plan_id)
            account = actions.account_lock(plan.account_id)
            unpaid = list(plan.installments.filter(missed_at__isnull=False, paid_amount__lt=F("amount")).order_by("number"))
            if plan.status != PaymentPlan.Status.CURRENT or len(unpaid) < limit:
                continue
            which = ", ".join(f"#{i.number} due {date_text(i.due_date)}" for i in unpaid)
            reason = f"{len(unpaid)} installments missed ({which})"
            plan.status, plan.ended_at, plan.end_reason = PaymentPlan.Status.BROKEN, now, reason[:300]
            plan.save(update_fields=["status", "ended_at", "end_reason"])
            summary = f"Plan broken: {reason}; the account is back in collection"
            if account.status == DebtorAccount.Status.PLAN:
                actions.status_change(account, to=DebtorAccount.Status.ACTIVE, by=By.SYSTEM, actor=None, now=now,
                                      reason="plan broken", summary=summary)
            else:
                events.status_changed(account, actor=None, summary=summary, at=now)
            audit_record(action="plan.broken", agency=account.agency, client=account.client, obj=plan,
                         after={"reason": reason})
            broken += 1
    return broken


def promise_reminders_run(*, agency_id, now: datetime | None = None) -> dict:
    """A reminder the day before each open promise to pay is due (the debtor's day, from
    MORNING_HOUR), once per promise and due date. Returns {"promise_reminder": n, "no_email": n}."""
    now = now or timezone.now()
    counts = {PROMISE: 0, "no_email": 0}
    if not PlanStepSettings.for_agency(agency_id).promise_reminder:
        return counts
    latest = latest_date_anywhere(now)
    candidates = (Promise.objects.filter(status=Promise.Status.OPEN, due_date__gte=latest - timedelta(days=1),
                                         due_date__lte=latest + timedelta(days=1))
                  .select_related("account__agency", "account__client").order_by("pk"))
    steps = []
    for promise in candidates:
        account = promise.account
        if (promise.due_date - step_day(account.debtor_time_zone, now)).days != 1:
            continue
        left = promise.amount - promise.paid_amount
        when = f"{promise.due_date:%B} {promise.due_date.day}, {promise.due_date.year}"
        steps.append((promise, Step(PROMISE, f"Reminder: your payment of {left:,.2f} {account.currency} is due tomorrow",
                                    (f"You promised to pay {left:,.2f} {account.currency} by tomorrow, {when}.",
                                     "Thank you for keeping your promise.")),
                      send_key("promise-reminder", promise, promise.due_date)))
    with transaction.atomic():
        _send(steps, now, counts)
    return counts
