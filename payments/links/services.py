"""Secure links (keyword-only, one transaction, audited): issue one by email or for a letter,
find it from the token the debtor opened, check the debtor's identity on it, revoke it.

A token is 256 random bits (portal.secrets.new_token); the database keeps its keyed hash only.
Opening a link spends nothing: mail scanners open links too. Five wrong identity answers lock
the link (MAX_FAILED_ATTEMPTS); one IP address gets DEBTOR_VERIFY_PER_IP tries an hour across
all links. Rules: 12 CFR 1006.6(d)(4) for the emailed message's opt-out notice,
1006.18(e) for the consumer disclosure that the message is from a debt collector.
"""
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts import permissions
from collections_work.compliance import contact_decision
from collections_work.debtor_accounts import events
from collections_work.letters.tasks import after_first_contact
from collections_work.models import Contact, DebtPurpose
from collections_work.compliance import opt_out_link
from payments.links import identity
from payments.models import SecureLink
from portal.audit import audit_record
from portal.emails import email_schedule
from portal.errors import DomainError
from portal.secrets import keyed_hash, new_token
from portal.tenancy import tenant_scope, unscoped
from portal.text import date_text

MAX_FAILED_ATTEMPTS = 5
OPENED_PRECISION = timedelta(minutes=1)  # how exactly `last_opened_at` follows the debtor's clicks


class LinkUnavailable(DomainError):
    """The link is unknown, expired, revoked or locked; `state` says which."""

    def __init__(self, state: str):
        messages = {
            "unknown": "This link is not valid. Check that you copied all of it, or contact the agency.",
            "expired": "This link has expired. Contact the agency for a new one.",
            "revoked": "This link is no longer valid. Contact the agency for a new one.",
            "locked": "This link is locked after too many wrong answers. Contact the agency to get a new one.",
        }
        super().__init__(messages[state], code=state)
        self.state = state


def link_url(token: str) -> str:
    return settings.SITE_URL + reverse("debtor_landing", args=[token])


def debtor_email_of(account) -> Contact | None:
    """The debtor's first email address on file that has not opted out."""
    return (Contact.objects.filter(debtor_id=account.debtor_id, kind=Contact.Kind.EMAIL, opted_out_at__isnull=True)
            .order_by("id").first())


def link_issue(*, agency, actor, account, channel: str, offer=None, now=None) -> tuple[SecureLink, str]:
    """A new link to `account` (and `offer`, else an invitation to settle) -> (link, its URL).

    channel "email": sent now to the debtor's email on file, only if the contact policy allows an
    email now; "letter": the URL is returned once for staff to print (it is never shown again).
    Raises NotAllowed for non-staff; DomainError when the portal holds too little to check the
    debtor's identity, when there is no email on file, or with the policy's own words when an
    email may not go now."""
    permissions.require(permissions.can_work_accounts(actor), "Only agency staff send links to debtors.")
    if channel not in SecureLink.Channel.values:
        raise DomainError("Choose email or letter.", field="channel")
    now = now or timezone.now()
    if identity.facts_for(account) is None:
        raise DomainError("The portal holds too little about this debtor to check who opens the link: it needs two "
                          "of the postal code, the tax ID's last 4 digits, the client's reference and a phone number.")
    contact = None
    if channel == SecureLink.Channel.EMAIL:
        contact = debtor_email_of(account)
        if contact is None:
            raise DomainError("No email on file for this debtor (or every address opted out): send it by letter.",
                              field="channel")
        decision = contact_decision(account=account, channel="email", contact=contact, at=now)
        if not decision:
            raise DomainError(" ".join(decision.reasons), field="channel")
    link, url = link_make(account=account, channel=channel, offer=offer, sent_to=contact.value if contact else "",
                          created_by=actor, now=now)
    token = url.rstrip("/").rsplit("/", 1)[1]
    what = "the offer" if offer else "an invitation to settle"
    if contact is not None:
        _email_link(link, token, contact)
        summary = f"Secure link to {what} emailed to {contact.value}; valid until {date_text(agency.local_date(link.expires_at))}"
    else:
        summary = f"Secure link to {what} made for a letter; valid until {date_text(agency.local_date(link.expires_at))}"
    after_first_contact(account)  # a letter is a communication too (12 CFR 1006.34(a)): the notice follows
    events.offer_recorded(account, actor=actor, summary=summary, at=now)
    audit_record(action="link.issued", actor=actor, agency=agency, client=account.client, obj=link,
                 after={"channel": channel, "offer": offer.pk if offer else None,
                        "expires_at": link.expires_at.isoformat()})
    return link, link_url(token)


def link_make(*, account, channel: str, sent_to: str = "", offer=None, created_by=None, now=None) -> tuple[SecureLink, str]:
    """Only the link (for the portal's own messages: reminders, statements): a new 256-bit token,
    its hash stored, valid for the agency's link lifetime. Returns (link, URL); the caller sends it."""
    now = now or timezone.now()
    token = new_token()
    link = SecureLink.objects.create(
        agency_id=account.agency_id, client=account.client, account=account, offer=offer, token_hash=keyed_hash(token),
        channel=channel, sent_to=sent_to, created_by=created_by,
        expires_at=now + timedelta(days=account.agency.debtor_link_days))
    return link, link_url(token)


def links_make_many(*, pairs, channel: str, now=None) -> list[str]:
    """link_make for many accounts at once (scheduled messages): `pairs` is [(account, sent_to)].
    Returns the URLs in the same order; the links are written in one statement."""
    now = now or timezone.now()
    links, urls = [], []
    pattern = link_url("TOKEN")  # one reverse() for the batch
    for account, sent_to in pairs:
        token = new_token()
        links.append(SecureLink(agency_id=account.agency_id, client=account.client, account=account,
                                token_hash=keyed_hash(token), channel=channel, sent_to=sent_to,
                                expires_at=now + timedelta(days=account.agency.debtor_link_days)))
        urls.append(pattern.replace("TOKEN", token))
    SecureLink.objects.bulk_create(links, batch_size=1000)
    return urls


def _email_link(link, token, contact):
    account = link.account
    email_schedule(
        key=f"debtor-link:{link.pk}", to=contact.value, template="debtor_link", agency=account.agency,
        client=account.client, subject=f"Your account with {account.client.name}",
        context={"account": account, "agency": account.agency, "expires_at": link.expires_at,
                 "offer": link.offer, "consumer": account.debt_purpose != DebtPurpose.COMMERCIAL,
                 "opt_out_link": opt_out_link(contact)},
        secrets={"link": link_url(token)})


def link_revoke(*, agency, actor, link, now=None) -> SecureLink:
    """Staff revoke a link: it stops working at once, visits on it included."""
    permissions.require(permissions.can_work_accounts(actor), "Only agency staff revoke links.")
    now = now or timezone.now()
    with transaction.atomic():
        link = SecureLink.objects.select_for_update().select_related("account").get(pk=link.pk)
        if link.revoked_at is not None:
            raise DomainError("This link is already revoked.")
        link.revoked_at, link.revoked_by = now, actor
        link.save(update_fields=["revoked_at", "revoked_by"])
        events.offer_recorded(link.account, actor=actor, summary="Secure link revoked", at=now)
        audit_record(action="link.revoked", actor=actor, agency=agency, client=link.client, obj=link)
    return link


def link_find(token: str, *, now=None) -> SecureLink:
    """The link `token` opens, whatever its state (the caller opens its agency's scope), or raise
    LinkUnavailable("unknown"). Nothing is spent; `last_opened_at` is noted, to the minute
    (OPENED_PRECISION): a debtor's clicks within a minute of each other write nothing."""
    if not token or len(token) > 100:
        raise LinkUnavailable("unknown")
    with unscoped():  # the token is the credential; the agency comes from the link
        link = SecureLink.objects.select_related("account__debtor", "account__client", "agency").filter(
            token_hash=keyed_hash(token)).first()
    if link is None:
        raise LinkUnavailable("unknown")
    now = now or timezone.now()
    if link.last_opened_at is None or not timedelta(0) <= now - link.last_opened_at < OPENED_PRECISION:
        # Every page of a visit comes through here: a write (and its commit) per click was most
        # of a page's database time on a busy machine (bench/debtor).
        with tenant_scope(link.agency_id):
            SecureLink.objects.filter(pk=link.pk).update(last_opened_at=now)
        link.last_opened_at = now
    return link


def link_check_usable(link, now=None) -> None:
    """Raise LinkUnavailable unless the link is active (not expired, revoked or locked)."""
    state = link.state(now or timezone.now())
    if state != "active":
        raise LinkUnavailable(state)


def _ip_tries_left(ip: str) -> bool:
    key = f"debtor-verify-ip:{ip}"
    cache.add(key, 0, 3600)
    try:
        tries = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, 3600)
        tries = 1
    return tries <= settings.DEBTOR_VERIFY_PER_IP


def link_verify(*, link, answers: dict, ip: str | None, now=None, facts=None) -> list[str]:
    """Check the debtor's answers (fact name -> text) on an active link.

    `facts`: identity.facts_for(link.account) when the caller (the page that asked them) has
    them already; otherwise they are read here. Returns the names of the facts confirmed.
    Raises LinkUnavailable for a link not active, DomainError (code "throttled") when this IP
    address has used its tries for the hour, and DomainError (code "wrong") for wrong answers;
    the fifth wrong answer locks the link, which the account's timeline and the audit log record."""
    now = now or timezone.now()
    link_check_usable(link, now)
    facts = facts if facts is not None else identity.facts_for(link.account)
    if facts is None:
        raise LinkUnavailable("revoked")
    if not _ip_tries_left(ip or "unknown"):
        raise DomainError("Too many tries from your network. Wait an hour, or contact the agency.", code="throttled")
    if identity.answers_match(facts, answers):
        with transaction.atomic():  # the change and its audit event together (and one commit)
            SecureLink.objects.filter(pk=link.pk).update(verified_at=now)
            audit_record(action="link.verified", agency=link.agency, client=link.account.client, obj=link,
                         after={"facts": [fact.name for fact in facts]})
        return [fact.name for fact in facts]
    _record_wrong_answer(link, now)
    raise DomainError("Those answers do not match what we hold. Check them and try again.", code="wrong")


def _record_wrong_answer(link, now):
    with transaction.atomic():
        locked = SecureLink.objects.select_for_update().get(pk=link.pk)
        locked.failed_attempts += 1
        fields = ["failed_attempts"]
        if locked.failed_attempts >= MAX_FAILED_ATTEMPTS and locked.locked_at is None:
            locked.locked_at = now
            fields.append("locked_at")
            events.offer_recorded(link.account, actor=None, at=now,
                                  summary=f"Secure link locked after {MAX_FAILED_ATTEMPTS} wrong identity answers")
            audit_record(action="link.locked", agency=link.agency, client=link.account.client, obj=link,
                         after={"failed_attempts": locked.failed_attempts})
        locked.save(update_fields=fields)
    link.failed_attempts, link.locked_at = locked.failed_attempts, locked.locked_at
    if link.locked_at is not None:
        raise LinkUnavailable("locked")
