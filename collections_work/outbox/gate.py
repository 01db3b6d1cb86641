"""The contact policy at the moment of sending: registered with the portal's send log in
CollectionsWorkConfig.ready, asked by the worker before every try of an email to a debtor."""
from django.utils import timezone

from collections_work.compliance import DISPUTE_RECHECK, UNKNOWN_ZONE_CANDIDATES, policy_for, send_decision
from collections_work.debtor_accounts import events
from collections_work.models import Contact, DebtorAccount, Dispute
from portal.send_gate import SendGate, SendVerdict
from portal.text import date_text
from portal.time_zones import is_region_zone


# A message held back (the debtor's night, a dispute) must still be true when it goes: no "due
# today" after the installment was paid, no reminder of a date gone by (12 CFR 1006.18). The app
# that makes such messages registers a check per email kind, over a batch:
# check(emails, now) -> {email.pk: why the message is out of date}; such a message is cancelled.
OUTDATED_CHECKS: dict = {}


def outdated_check_register(kinds, check) -> None:
    for kind in kinds:
        OUTDATED_CHECKS[kind] = check


def _outdated(emails, now) -> dict:
    by_kind = {}
    for email in emails:
        if email.kind in OUTDATED_CHECKS:
            by_kind.setdefault(email.kind, []).append(email)
    found = {}
    for kind, batch in by_kind.items():
        found.update(OUTDATED_CHECKS[kind](batch, now))
    return found


def _not_collected(account, now) -> SendVerdict | None:
    """A recalled or closed account is no longer the agency's to collect: its messages are
    cancelled; one on hold (the client paused collection) waits and is asked again later."""
    if account.status in (DebtorAccount.Status.RECALLED, DebtorAccount.Status.CLOSED):
        return SendVerdict("cancel", f"The account is {account.get_status_display().lower()}: "
                                     "the agency no longer collects it.")
    if account.status == DebtorAccount.Status.ON_HOLD:
        return SendVerdict("defer", f"The account is on hold ({account.hold_reason or 'no reason given'}).",
                           now + DISPUTE_RECHECK)
    return None


class ContactPolicyGate(SendGate):
    def decide(self, email, now) -> SendVerdict:
        """Inputs: a logged email with an `account_id` (inside the worker's tenant scope), now (UTC).
        An account that no longer exists, or a message no longer true (OUTDATED_CHECKS), cancels it."""
        if (outdated := _outdated([email], now).get(email.pk)) is not None:
            return SendVerdict("cancel", outdated)
        account = DebtorAccount.objects.select_related("debtor").filter(pk=email.account_id).first()
        if account is None:
            return SendVerdict("cancel", "The debtor account no longer exists.")
        if (held := _not_collected(account, now)) is not None:
            return held
        contact = (Contact.objects.filter(debtor_id=account.debtor_id, kind=Contact.Kind.EMAIL, value__iexact=email.to)
                   .order_by("opted_out_at", "pk").last())
        decision = send_decision(account=account, channel="email", contact=contact, at=now)
        return SendVerdict(decision.action, decision.reason, decision.until)

    def decide_many(self, emails, now) -> dict:
        """decide() for a batch of emails with one query per kind of row (accounts, the debtors'
        contacts, open disputes, policies) instead of several per email: the same rules
        (compliance.send_decision), given what it would read itself."""
        account_ids = {email.account_id for email in emails}
        accounts = DebtorAccount.objects.select_related("debtor").in_bulk(account_ids)
        debtor_ids = {account.debtor_id for account in accounts.values()}
        contacts = {}
        for contact in Contact.objects.filter(debtor_id__in=debtor_ids).order_by("pk"):
            contacts.setdefault(contact.debtor_id, []).append(contact)
        disputed = set(Dispute.objects.filter(account_id__in=account_ids, resolved_at__isnull=True)
                       .values_list("account_id", flat=True))
        policies, verdicts = {}, {}
        outdated = _outdated(emails, now)
        for email in emails:
            if email.pk in outdated:
                verdicts[email.pk] = SendVerdict("cancel", outdated[email.pk])
                continue
            account = accounts.get(email.account_id)
            if account is None:
                verdicts[email.pk] = SendVerdict("cancel", "The debtor account no longer exists.")
                continue
            if (held := _not_collected(account, now)) is not None:
                verdicts[email.pk] = held
                continue
            own = contacts.get(account.debtor_id, [])
            matching = [c for c in own if c.kind == Contact.Kind.EMAIL and c.value.lower() == email.to.lower()]
            contact = sorted(matching, key=lambda c: (c.opted_out_at is not None, c.pk))[0] if matching else None
            # As candidate_zones: region names only ("EST" names no place; an unknown name would fail).
            zones = sorted({z for z in [getattr(contact, "time_zone", ""), account.debtor.time_zone,
                                        *(c.time_zone for c in own)] if is_region_zone(z)}) or list(UNKNOWN_ZONE_CANDIDATES)
            if account.agency_id not in policies:
                policies[account.agency_id] = policy_for(account.agency_id)
            decision = send_decision(account=account, channel="email", contact=contact, at=now,
                                     policy=policies[account.agency_id], zones=zones,
                                     disputed=account.pk in disputed)
            verdicts[email.pk] = SendVerdict(decision.action, decision.reason, decision.until)
        return verdicts

    def record(self, email, verdict, now) -> None:
        account = DebtorAccount.objects.filter(pk=email.account_id).first()
        if account is None:
            return
        if verdict.action == "defer":
            until = timezone.localtime(verdict.until) if verdict.until else None
            when = f" until {date_text(until, '%b %d, %Y %H:%M %Z')}" if until else ""
            summary = f"Email “{email.subject}” to {email.to} deferred{when}: {verdict.reason}"
        else:
            summary = f"Email “{email.subject}” to {email.to} cancelled: {verdict.reason}"
        events.message_held(account, summary=summary, at=now)
