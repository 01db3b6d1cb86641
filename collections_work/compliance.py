"""Contact compliance: the one policy every outbound contact asks first.

`contact_decision(account=..., channel=..., contact=..., at=...)` runs every rule and returns a
Decision that says, in plain words, why a contact is blocked. Rules are small functions in
RULES, so a new one is a function and a line, not another `if` somewhere in a view.

For accounts whose debt purpose is consumer or unknown the legal rules always apply (12 CFR
1006.14 and 1006.6): at most 7 call attempts in 7 consecutive days, none within 7 days after a
telephone conversation, and no call or email outside 08:00-21:00 in the debtor's local time (a
letter has no time of day: the post delivers it). For
commercial accounts the agency's ContactPolicy applies (default: the same hours, no call cap).
"""
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core import signing
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from collections_work.models import Activity, Contact, ContactPolicy, DebtPurpose, Dispute
from portal.text import date_text
from portal.time_zones import is_region_zone

WINDOW = timedelta(days=7)
LEGAL_CALL_CAP = 7
LEGAL_EARLIEST_HOUR, LEGAL_LATEST_HOUR = 8, 21
# Where a debtor's zone is unknown, the calling window must hold in all of these.
UNKNOWN_ZONE_CANDIDATES = ("America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
                           "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu")
# Outcomes of a call that mean we spoke with the debtor (a "telephone conversation").
CONVERSATION_OUTCOMES = {"right_party_contact", "promised", "disputed", "refused_to_pay"}


@dataclass
class Decision:
    allowed: bool
    reasons: list[str] = field(default_factory=list)

    def __bool__(self):
        return self.allowed


@dataclass
class Attempt:
    """What is about to happen, and what the rules need to know about it."""

    account: object
    channel: str  # "call", "email", "letter"
    contact: Contact | None
    at: datetime
    policy: ContactPolicy
    calls: list = field(default_factory=list)  # (occurred_at, outcome) of calls in the last 7 days

    @property
    def legal_rules_apply(self) -> bool:
        return self.account.debt_purpose in (DebtPurpose.CONSUMER, DebtPurpose.UNKNOWN)


def _open_dispute(attempt):
    if Dispute.objects.filter(account=attempt.account, resolved_at__isnull=True).exists():
        return "A dispute is open on this account: no contact until it is resolved."


def _cease_communication(attempt):
    ceased = attempt.account.cease_communication_at
    if ceased is not None and ceased <= attempt.at:
        return f"The debtor asked us to stop contacting them on {date_text(timezone.localtime(ceased))}."


def _opted_out(attempt):
    contact = attempt.contact
    if contact is not None and contact.opted_out_at is not None and contact.opted_out_at <= attempt.at:
        return f"The debtor opted out of contact at {contact.value}."


def candidate_zones(account, contact) -> list[str]:
    """Every zone the debtor may be in: the contact's, the debtor's and their other contacts'
    (IANA region names only: "EST" names no place). None known: the whole of the United States."""
    zones = {z for z in (getattr(contact, "time_zone", ""), account.debtor.time_zone) if is_region_zone(z)}
    zones |= {z for z in Contact.objects.filter(debtor_id=account.debtor_id).exclude(time_zone="")
              .values_list("time_zone", flat=True) if is_region_zone(z)}
    return sorted(zones) or list(UNKNOWN_ZONE_CANDIDATES)


def _calling_hours(attempt):
    if attempt.channel == "letter":  # a letter reaches the debtor whenever the post does: no time of day
        return None
    return _hours_outside(attempt, candidate_zones(attempt.account, attempt.contact))


def _hours_outside(attempt, zones):
    earliest, latest = attempt.policy.earliest_hour, attempt.policy.latest_hour
    if attempt.legal_rules_apply:
        earliest, latest = max(earliest, LEGAL_EARLIEST_HOUR), min(latest, LEGAL_LATEST_HOUR)
    outside = []
    for zone in zones:
        local = attempt.at.astimezone(ZoneInfo(zone))
        if not earliest <= local.hour < latest:
            outside.append(f"{local:%H:%M} in {zone}")
    if outside:
        return (f"Outside the contact hours {earliest:02d}:00–{latest:02d}:00 in the debtor's local time "
                f"({', '.join(outside)}).")


def _call_frequency(attempt):
    if attempt.channel != "call":
        return None
    if attempt.legal_rules_apply:
        cap = LEGAL_CALL_CAP
    elif attempt.policy.commercial_weekly_call_cap is not None:
        cap = attempt.policy.commercial_weekly_call_cap
    else:
        return None
    if len(attempt.calls) >= cap:
        oldest = min(at for at, _ in attempt.calls)
        return (f"{len(attempt.calls)} call attempts in the last 7 days (the limit is {cap}); "
                f"the next call is allowed after {date_text(timezone.localtime(oldest + WINDOW), '%b %d %H:%M')}.")


def _after_conversation(attempt):
    if attempt.channel != "call" or not attempt.legal_rules_apply:
        return None
    conversations = [at for at, outcome in attempt.calls if outcome in CONVERSATION_OUTCOMES]
    if conversations:
        last = max(conversations)
        return (f"We spoke with the debtor on {date_text(timezone.localtime(last), '%b %d %H:%M')}; no call for 7 days "
                f"after a conversation (until {date_text(timezone.localtime(last + WINDOW), '%b %d %H:%M')}).")


RULES = [_open_dispute, _cease_communication, _opted_out, _calling_hours, _call_frequency, _after_conversation]


# What each channel needs on file, and its name in a sentence.
CHANNEL_CONTACTS = {"call": (Contact.Kind.PHONE, "phone", "phone number"),
                    "email": (Contact.Kind.EMAIL, "email", "email address"),
                    "letter": (Contact.Kind.ADDRESS, "postal address", "postal address")}


def reachable_contacts(account, channel: str, contacts=None) -> tuple[list[Contact], str | None]:
    """The debtor's contacts that `channel` can use (its kind, not opted out), and when there is
    none, why in plain words ("No email on file.", "Every phone number on file opted out.").
    `contacts`: the debtor's contacts when the caller has them already."""
    kind, name, long_name = CHANNEL_CONTACTS[channel]
    if contacts is None:
        contacts = Contact.objects.filter(debtor_id=account.debtor_id, kind=kind)
    of_kind = [contact for contact in contacts if contact.kind == kind]
    usable = [contact for contact in of_kind if contact.opted_out_at is None]
    if not of_kind:
        return usable, f"No {name} on file."
    if not usable:
        return usable, f"Every {long_name} on file opted out." if len(of_kind) > 1 else \
            f"The only {long_name} on file opted out."
    return usable, None


def policy_for(agency_id) -> ContactPolicy:
    policy = ContactPolicy.objects.filter(agency_id=agency_id).first()
    return policy or ContactPolicy(agency_id=agency_id)


def contact_decision(*, account, channel: str, contact: Contact | None = None, at: datetime | None = None) -> Decision:
    """May we contact this account's debtor now (or at `at`) by `channel` at `contact`?"""
    at = at or timezone.now()
    calls = list(Activity.objects.filter(account=account, kind=Activity.Kind.CALL, occurred_at__gt=at - WINDOW,
                                         occurred_at__lte=at).values_list("occurred_at", "outcome"))
    attempt = Attempt(account=account, channel=channel, contact=contact, at=at,
                      policy=policy_for(account.agency_id), calls=calls)
    reasons = [reason for rule in RULES if (reason := rule(attempt))]
    return Decision(allowed=not reasons, reasons=reasons)


# --- The calling window as a filter, for "Next account" ------------------------------------------

@lru_cache(maxsize=256)
def _open_zones(minute: datetime, zones: frozenset, earliest: int, latest: int) -> tuple:
    return tuple(sorted(zone for zone in zones if earliest <= minute.astimezone(ZoneInfo(zone)).hour < latest))


def zones_in_window(zones: frozenset, at: datetime, earliest: int, latest: int) -> tuple[tuple, bool]:
    """The zones of `zones` inside the hours at `at`, and whether an unknown zone is (only when the
    hours hold in every US zone). A zone not in `zones` is never inside: when in doubt, no call."""
    minute = at.replace(second=0, microsecond=0)
    open_zones = _open_zones(minute, frozenset(z for z in zones if is_region_zone(z)), earliest, latest)
    unknown = len(_open_zones(minute, frozenset(UNKNOWN_ZONE_CANDIDATES), earliest, latest)) == len(
        UNKNOWN_ZONE_CANDIDATES)
    return open_zones, unknown


def calling_windows(policy: ContactPolicy) -> dict[str, tuple[int, int]]:
    """(earliest, latest) hour for commercial accounts and for the others (the legal window)."""
    return {"commercial": (policy.earliest_hour, policy.latest_hour),
            "other": (max(policy.earliest_hour, LEGAL_EARLIEST_HOUR), min(policy.latest_hour, LEGAL_LATEST_HOUR))}


def _zone_rule(zones: frozenset, at: datetime, earliest: int, latest: int) -> Q:
    open_zones, unknown = zones_in_window(zones, at, earliest, latest)
    rule = Q(debtor_time_zone__in=open_zones)
    return rule | Q(debtor_time_zone="") if unknown else rule


def callable_now(policy: ContactPolicy, zones: frozenset, at: datetime) -> Q:
    """Accounts whose debtor may be called at `at` by the hours rule, among debtors in `zones`
    (the agency's zones in use). The other rules need each account's history: the workspace asks
    contact_decision before a call is logged."""
    windows = calling_windows(policy)
    return ((Q(debt_purpose=DebtPurpose.COMMERCIAL) & _zone_rule(zones, at, *windows["commercial"]))
            | (~Q(debt_purpose=DebtPurpose.COMMERCIAL) & _zone_rule(zones, at, *windows["other"])))


# --- Scheduled messages: send now, later, or never ----------------------------------------------

# Rules whose "no" lasts for ever for this message (the debtor said stop): the message is cancelled.
NEVER_RULES = (_cease_communication, _opted_out)
# How far ahead to look for the next allowed time, and in which steps (zones differ by 15 minutes
# at the finest: Nepal, Chatham).
NEXT_ALLOWED_HORIZON = timedelta(days=3)
NEXT_ALLOWED_STEP = timedelta(minutes=15)
# A message held by an open dispute is looked at again this often (the dispute may be resolved).
DISPUTE_RECHECK = timedelta(hours=1)


@dataclass
class SendDecision:
    """What to do with a scheduled message now: "send", "defer" (until `until`, UTC) or "cancel",
    with the reasons in words."""

    action: str
    reasons: list[str] = field(default_factory=list)
    until: datetime | None = None

    @property
    def reason(self) -> str:
        return " ".join(self.reasons)


def next_allowed_time(*, account, contact, at: datetime, channel: str = "email", policy=None,
                      zones=None) -> datetime | None:
    """The first quarter hour from `at` (UTC) inside the contact hours in every zone the debtor
    may be in (candidate_zones), by the same hours rule as contact_decision; None when there is
    none within NEXT_ALLOWED_HORIZON (a policy with no hours at all). `policy`, `zones`: already
    looked up by the caller (a batch), else read here."""
    policy = policy or policy_for(account.agency_id)
    attempt = Attempt(account=account, channel=channel, contact=contact, at=at, policy=policy)
    zones = zones if zones is not None else candidate_zones(account, contact)
    start = at.replace(second=0, microsecond=0)
    start += timedelta(minutes=(-start.minute) % 15)
    earliest, latest = policy.earliest_hour, policy.latest_hour
    if attempt.legal_rules_apply:
        earliest, latest = max(earliest, LEGAL_EARLIEST_HOUR), min(latest, LEGAL_LATEST_HOUR)
    candidates = [ZoneInfo(zone) for zone in zones]
    moment = start
    while moment - start <= NEXT_ALLOWED_HORIZON:
        if all(earliest <= moment.astimezone(zone).hour < latest for zone in candidates):
            return moment
        moment += NEXT_ALLOWED_STEP
    return None


def send_decision(*, account, channel: str, contact: Contact | None, at: datetime | None = None, policy=None,
                  zones=None, disputed: bool | None = None) -> SendDecision:
    """May a scheduled message go to the debtor now? The same rules as contact_decision, sorted
    by what they mean for a message that waits: a cease request or an opt-out cancels it (it may
    never go: the reasons say why); an open dispute holds it until the dispute is resolved
    (looked at again every DISPUTE_RECHECK); outside the contact hours defers it to the next
    allowed time in every zone the debtor may be in (emails and calls only: a letter has no time
    of day, so the hours never hold it). `policy`, `zones` (candidate_zones) and
    `disputed` (an open dispute?) may come from the caller's batch lookups; else read here."""
    at = at or timezone.now()
    policy = policy or policy_for(account.agency_id)
    attempt = Attempt(account=account, channel=channel, contact=contact, at=at, policy=policy)
    never = [reason for rule in NEVER_RULES if (reason := rule(attempt))]
    if never:
        return SendDecision("cancel", never)
    dispute = (_open_dispute(attempt) if disputed is None else
               "A dispute is open on this account: no contact until it is resolved." if disputed else None)
    if dispute:
        return SendDecision("defer", [dispute], until=at + DISPUTE_RECHECK)
    if channel == "letter":  # no time of day (the post delivers it): the contact hours never hold a letter
        return SendDecision("send")
    zones = zones if zones is not None else candidate_zones(account, contact)
    if (reason := _hours_outside(attempt, zones)):
        until = next_allowed_time(account=account, contact=contact, at=at, channel=channel, policy=policy, zones=zones)
        if until is None:
            return SendDecision("cancel", [reason, "No allowed time in the next three days."])
        return SendDecision("defer", [reason], until=until)
    return SendDecision("send")


# --- Opt-out links (1006.6(e)): every email to a debtor carries one ---------------------------------

OPT_OUT_SALT = "collections_work.contact-opt-out"


def opt_out_token(contact) -> str:
    """A signed token naming the email contact (and its agency) an opt-out link turns off."""
    return signing.dumps({"c": contact.pk, "a": contact.agency_id}, salt=OPT_OUT_SALT, compress=True)


def opt_out_link(contact) -> str:
    return opt_out_link_for_token(opt_out_token(contact))


def opt_out_link_for_token(token: str) -> str:
    return settings.SITE_URL + reverse("contact_opt_out", args=[token])


def read_opt_out_token(token) -> dict | None:
    try:
        return signing.loads(token, salt=OPT_OUT_SALT)
    except signing.BadSignature:
        return None
