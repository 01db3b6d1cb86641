"""The contact policy at the moment of sending: registered with the portal's send log in
CollectionsWorkConfig.ready, asked by the worker before every try of an email to a debtor."""
from django.utils import timezone

from collections_work.compliance import send_decision
from collections_work.debtor_accounts import events
from collections_work.models import Contact, DebtorAccount
from portal.send_gate import SendGate, SendVerdict


class ContactPolicyGate(SendGate):
    def decide(self, email, now) -> SendVerdict:
        """Inputs: a logged email with an `account_id` (inside the worker's tenant scope), now (UTC).
        An account that no longer exists cancels the message."""
        account = DebtorAccount.objects.select_related("debtor").filter(pk=email.account_id).first()
        if account is None:
            return SendVerdict("cancel", "The debtor account no longer exists.")
        contact = (Contact.objects.filter(debtor_id=account.debtor_id, kind=Contact.Kind.EMAIL, value__iexact=email.to)
                   .order_by("opted_out_at", "pk").last())
        decision = send_decision(account=account, channel="email", contact=contact, at=now)
        return SendVerdict(decision.action, decision.reason, decision.until)

    def record(self, email, verdict, now) -> None:
        account = DebtorAccount.objects.filter(pk=email.account_id).first()
        if account is None:
            return
        if verdict.action == "defer":
            until = timezone.localtime(verdict.until) if verdict.until else None
            when = f" until {until:%b %d, %Y %H:%M %Z}" if until else ""
            summary = f"Email “{email.subject}” to {email.to} deferred{when}: {verdict.reason}"
        else:
            summary = f"Email “{email.subject}” to {email.to} cancelled: {verdict.reason}"
        events.message_held(account, summary=summary, at=now)
