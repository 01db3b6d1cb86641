"""The password sign-in lockout: targeted, not global.

Why not allauth's cache-based `login_failed` limit: five wrong passwords for an address from one
IP locked that address out from every IP, so anyone could lock a chosen user out, and it lived in
the cache, so sign-in failed when Redis was down. The rules here (settings in portal/settings.py,
README "Security"), counted over the last LOGIN_LOCKOUT_WINDOW_MINUTES from SignInFailure rows:

- **address + IP**: LOGIN_LOCKOUT_ATTEMPTS failures for one address from one client IP lock that
  address *from that IP*; the same address from another IP is not locked by them.
- **address from anywhere**: LOGIN_SLOWDOWN_AFTER failures for one address from any IPs do not
  block it; each further try waits since the address's last failure, 1 s then doubling, at most
  LOGIN_SLOWDOWN_MAX_SECONDS: a slow trickle for an attacker with many IPs, a short wait for the
  user.
- **IP from anywhere**: LOGIN_IP_LOCKOUT_ATTEMPTS failures from one IP, whatever the addresses,
  lock that IP (password spraying).

When an address's lock or slowdown starts, its owner (if the address is a portal user) gets an
email with a single-use link, valid LOGIN_UNLOCK_LINK_MINUTES, that clears every failure of the
address (all IPs). The audit log records lockouts, slowdowns and unlocks. The client IP comes from
portal.client_ip (TRUSTED_PROXIES).
"""
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import SignInFailure, User
from portal.audit import audit_record
from portal.emails import email_schedule
from portal.errors import DomainError

UNLOCK_SALT = "accounts.lockout.unlock"


@dataclass(frozen=True)
class Refusal:
    """Why a sign-in attempt is refused before its password is checked."""

    kind: str  # "locked" (address + IP), "ip_locked" or "slowed"
    message: str
    wait_seconds: int = 0


def normalise(email: str) -> str:
    return (email or "").strip().lower()[:254]


def _window_start(now):
    return now - timedelta(minutes=settings.LOGIN_LOCKOUT_WINDOW_MINUTES)


def _slowdown_wait(failures: int) -> int:
    """Seconds an address with `failures` recent failures waits after its last one (0: none)."""
    over = failures - settings.LOGIN_SLOWDOWN_AFTER
    if over < 0:
        return 0
    return min(2 ** min(over, 30), settings.LOGIN_SLOWDOWN_MAX_SECONDS)


def signin_check(*, email: str, ip: str | None, now=None) -> Refusal | None:
    """Whether a password attempt for `email` from `ip` may be checked now.

    Returns None (go ahead) or a Refusal with the message the sign-in form shows. Reads only."""
    now = now or timezone.now()
    email = normalise(email)
    recent = SignInFailure.objects.filter(created_at__gte=_window_start(now))
    if ip and recent.filter(ip_address=ip).count() >= settings.LOGIN_IP_LOCKOUT_ATTEMPTS:
        return Refusal("ip_locked", "Too many failed login attempts from your network. Try again later.")
    mine = recent.filter(email=email)
    if mine.filter(ip_address=ip).count() >= settings.LOGIN_LOCKOUT_ATTEMPTS:
        return Refusal("locked", "Too many failed login attempts. Try again later, or use the link we "
                                 "emailed to the address to unlock it now.")
    failures = mine.count()
    wait = _slowdown_wait(failures)
    if wait:
        last = mine.order_by("-created_at").values_list("created_at", flat=True).first()
        remaining = int((last + timedelta(seconds=wait) - now).total_seconds() + 0.999)
        if remaining > 0:
            return Refusal("slowed", f"Sign-ins for this address have failed many times recently. Wait "
                                     f"{remaining} seconds and try again.", wait_seconds=remaining)
    return None


def signin_failure_record(*, email: str, ip: str | None, now=None) -> SignInFailure:
    """Count one failed password attempt; when it starts a lock or a slowdown of the address,
    audit it and email the address's owner an unlock link (at most one email a window).

    Inputs: the address tried (any text: unknown addresses count too) and the client IP.
    Returns the new SignInFailure. One transaction."""
    now = now or timezone.now()
    email = normalise(email)
    with transaction.atomic():
        failure = SignInFailure.objects.create(email=email, ip_address=ip, created_at=now)
        recent = SignInFailure.objects.filter(email=email, created_at__gte=_window_start(now))
        pair = recent.filter(ip_address=ip).count()
        total = recent.count()
        started = []
        if pair == settings.LOGIN_LOCKOUT_ATTEMPTS:
            started.append("auth.locked_out")
        if total == settings.LOGIN_SLOWDOWN_AFTER:
            started.append("auth.slowed_down")
        from_ip = SignInFailure.objects.filter(ip_address=ip, created_at__gte=_window_start(now)).count() if ip else 0
        if from_ip == settings.LOGIN_IP_LOCKOUT_ATTEMPTS:
            audit_record(action="auth.ip_locked_out", actor_email=email, after={"ip": ip, "failures": from_ip})
        if started:
            user = User.objects.filter(email__iexact=email, is_active=True).first()
            agency, client = _agency_client_of(user)
            for action in started:
                audit_record(action=action, agency=agency, client=client, obj=user, actor_email=email,
                             after={"ip": ip, "failures_from_ip": pair, "failures": total})
            if user is not None:
                _email_unlock_link(user=user, failure=failure, now=now)
    return failure


def _agency_client_of(user):
    membership = getattr(user, "membership", None) if user is not None else None
    if membership is None:
        return None, None
    return membership.agency, membership.client


def unlock_token(*, failure: SignInFailure) -> str:
    """A signed token naming the failure that started the lock: spent once that failure is cleared."""
    return signing.dumps({"e": failure.email, "f": failure.pk}, salt=UNLOCK_SALT, compress=True)


def _email_unlock_link(*, user, failure, now):
    window = settings.LOGIN_LOCKOUT_WINDOW_MINUTES * 60
    link = settings.SITE_URL + reverse("signin_unlock", args=[unlock_token(failure=failure)])
    agency, client = _agency_client_of(user)
    email_schedule(
        key=f"signin-unlock:{user.pk}:{int(now.timestamp()) // window}", to=user.email, agency=agency,
        client=client, subject="Sign-ins to your portal account were blocked", template="signin_unlock",
        context={"user": user, "minutes": settings.LOGIN_UNLOCK_LINK_MINUTES,
                 "window": settings.LOGIN_LOCKOUT_WINDOW_MINUTES},
        secrets={"link": link})


def unlock_token_read(token: str) -> tuple[str, int]:
    """(address, failure id) of a valid, unexpired unlock token; DomainError otherwise."""
    try:
        data = signing.loads(token, salt=UNLOCK_SALT, max_age=settings.LOGIN_UNLOCK_LINK_MINUTES * 60)
        return normalise(data["e"]), int(data["f"])
    except signing.SignatureExpired:
        raise DomainError("This unlock link has expired. Wait for the lock to pass, or reset your password.") from None
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise DomainError("This unlock link is not valid.") from None


def signin_unlock(*, token: str) -> str:
    """Spend an emailed unlock link: every failure of its address is cleared (all IPs), so its
    lock and slowdown end now. Single use: the link names the failure that started the lock, and
    once that is cleared the link is spent. Returns the address; DomainError for a bad, expired or
    spent link. Audited. One transaction."""
    email, failure_id = unlock_token_read(token)
    with transaction.atomic():
        if not SignInFailure.objects.select_for_update().filter(pk=failure_id, email=email).exists():
            raise DomainError("This unlock link has been used already, or the address is not locked any more.")
        cleared, _ = SignInFailure.objects.filter(email=email).delete()
        user = User.objects.filter(email__iexact=email).first()
        agency, client = _agency_client_of(user)
        audit_record(action="auth.unlocked", agency=agency, client=client, obj=user, actor_email=email,
                     after={"failures_cleared": cleared})
    return email


def signin_failures_clear(*, email: str, reason: str) -> int:
    """Clear an address's failures after its owner proved who they are another way (a password
    reset by email). Returns how many were cleared. Audited when there were any."""
    email = normalise(email)
    with transaction.atomic():
        cleared, _ = SignInFailure.objects.filter(email=email).delete()
        if cleared:
            user = User.objects.filter(email__iexact=email).first()
            agency, client = _agency_client_of(user)
            audit_record(action="auth.unlocked", agency=agency, client=client, obj=user, actor_email=email,
                         after={"failures_cleared": cleared, "by": reason})
    return cleared


def signin_failures_prune(*, now=None) -> int:
    """Delete failures older than a day (the window is minutes; the audit log keeps the history)."""
    now = now or timezone.now()
    deleted, _ = SignInFailure.objects.filter(created_at__lt=now - timedelta(days=1)).delete()
    return deleted
