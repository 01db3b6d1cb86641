"""The question every message to a debtor asks before each try: may it go now?

The portal app sends mail but cannot know the contact policy (collections_work, above it), so
collections_work registers its gate here in its AppConfig.ready (collections_work/outbox.py).
"""
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class SendVerdict:
    """What the contact policy says about a debtor-facing message now: "send", "defer" (not now:
    `reason`, and `until`, the next time it may go, UTC) or "cancel" (never: `reason`)."""

    action: str
    reason: str = ""
    until: datetime | None = None


class SendGate:
    """Asked before every try of a message with an `account_id` (a message to a debtor). The
    portal app cannot know the contact policy (collections_work, above it): that app registers
    its gate in its AppConfig.ready. `decide(email, now) -> SendVerdict`; `record(email, verdict,
    now)` writes the deferral or cancellation on the account's timeline."""

    def decide(self, email, now) -> SendVerdict:
        return SendVerdict("send")

    def decide_many(self, emails, now) -> dict:
        """{email.pk: SendVerdict} for a batch (one SMTP connection's worth); a gate may read
        what it needs for the whole batch at once."""
        return {email.pk: self.decide(email, now) for email in emails}

    def record(self, email, verdict, now) -> None:
        return None


_gate = SendGate()


def send_gate_register(gate: SendGate) -> None:
    global _gate
    _gate = gate


def send_gate() -> SendGate:
    return _gate
