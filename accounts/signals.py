"""Audit of sign-ins, failed sign-ins and MFA changes; a fresh authentication on TOTP set-up."""
from allauth.account.internal.flows.login import record_authentication
from allauth.account.signals import password_reset
from allauth.mfa.models import Authenticator
from allauth.mfa.signals import authenticator_added, authenticator_removed
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from accounts import lockout
from accounts.models import User
from portal.audit import audit_record


def _agency_client_of(user):
    membership = getattr(user, "membership", None) if user is not None else None
    if membership is None:
        return None, None
    return membership.agency, membership.client


@receiver(user_logged_in)
def audit_sign_in(sender, request, user, **kwargs):
    agency, client = _agency_client_of(user)
    audit_record(action="auth.signed_in", actor=user, agency=agency, client=client, obj=user)


@receiver(user_login_failed)
def audit_failed_sign_in(sender, credentials, request=None, **kwargs):
    email = (credentials.get("email") or credentials.get("username") or "").strip().lower()
    user = User.objects.filter(email__iexact=email).first() if email else None
    agency, client = _agency_client_of(user)
    audit_record(action="auth.sign_in_failed", agency=agency, client=client, obj=user, actor_email=email[:254])


@receiver(authenticator_added)
def audit_mfa_added(sender, request, user, authenticator, **kwargs):
    agency, client = _agency_client_of(user)
    audit_record(action=f"mfa.{authenticator.type}_added", actor=user, agency=agency, client=client, obj=user)


@receiver(authenticator_added)
def record_fresh_mfa_authentication(sender, request, user, authenticator, **kwargs):
    """Typing a valid code from the new authenticator app is a fresh second-factor authentication.

    Recording it as a re-authentication lets allauth's redirect to the recovery codes it just made
    show them straight away instead of asking for the password again (the usual re-authentication
    window, ACCOUNT_REAUTHENTICATION_TIMEOUT, still applies to later visits). Recovery codes
    being (re)generated prove nothing by themselves, so they are not recorded.
    """
    if authenticator.type == Authenticator.Type.RECOVERY_CODES:
        return
    if request is None or not hasattr(request, "session") or getattr(request.user, "pk", None) != user.pk:
        return
    record_authentication(request, user, method="mfa", id=authenticator.pk, type=authenticator.type,
                          reauthenticated=True)


@receiver(authenticator_removed)
def audit_mfa_removed(sender, request, user, authenticator, **kwargs):
    agency, client = _agency_client_of(user)
    audit_record(action=f"mfa.{authenticator.type}_removed", actor=user, agency=agency, client=client, obj=user)


@receiver(password_reset)
def unlock_after_password_reset(sender, request, user, **kwargs):
    """A password reset proves the mailbox, as the unlock link does: the address's failed
    sign-ins are cleared (allauth cleared its own count the same way)."""
    lockout.signin_failures_clear(email=user.email, reason="password_reset")
