"""The bodies of a logged email as they leave: secrets (link tokens) are stored apart from the
bodies, which hold a placeholder, and put back only in the message that is sent."""
import html

from portal.models import OutboundEmail


def secret_placeholder(name: str) -> str:
    """What a stored body shows where the secret `name` was: readable, and unlike anything a
    template renders, so putting the secret back replaces only it."""
    return f"[secret {name}: not kept in the send log]"


def message_bodies(email: OutboundEmail) -> tuple[str, str]:
    """(text, html) of `email` as it is sent: its stored bodies with the secrets put back."""
    text, body_html = email.body_text, email.body_html
    for name, value in (email.secret_values or {}).items():
        text = text.replace(secret_placeholder(name), value)
        body_html = body_html.replace(secret_placeholder(name), html.escape(value))
    return text, body_html
