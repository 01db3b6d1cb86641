import re

from django.core import mail

INVITE_LINK = re.compile(r"https?://[^\s]+/invitations/([A-Za-z0-9_\-]+)/")


def invitation_token_sent_to(email: str) -> str:
    """The token in the latest invitation email sent to `email`."""
    for message in reversed(mail.outbox):
        if email in message.to:
            match = INVITE_LINK.search(message.body)
            if match:
                return match.group(1)
    raise AssertionError(f"No invitation email to {email} in {[m.to for m in mail.outbox]}")
