"""Who may do what: the named role sets and `can_*` checks that the view decorators
(accounts.access) and the services share, so each rule is written once.

A view refuses with 404 (the page does not say it exists); a service refuses with NotAllowed
(`require(...)`), which also guards callers that are not views (the API, tasks, tests).
Every check takes the acting user (whose `membership` says their role, agency and client) and,
where it matters, the client or debtor account acted on.
"""
from accounts.models import CLIENT_ROLES, STAFF_ROLES, Role
from portal.errors import NotAllowed

STAFF = STAFF_ROLES
CLIENTS = CLIENT_ROLES
EVERYONE = STAFF | CLIENTS
MANAGERS = frozenset({Role.AGENCY_ADMIN, Role.MANAGER})
AGENCY_ADMINS = frozenset({Role.AGENCY_ADMIN})
CLIENT_ADMINS = frozenset({Role.CLIENT_ADMIN})
# Placing accounts: agency managers for any client, a client admin for their own client. The
# read-only client user may look at placements but not place.
PLACERS = MANAGERS | CLIENT_ADMINS
# Notes and documents on the account page: the agency's staff and the client's admin.
ACCOUNT_EDITORS = STAFF | CLIENT_ADMINS


def role_of(user) -> str | None:
    membership = getattr(user, "membership", None)
    return None if membership is None else membership.role


def _owns_client(user, client_id) -> bool:
    """Staff act for every client of their agency (the tenant scope holds them to it); a client
    user only for their own client."""
    membership = getattr(user, "membership", None)
    if membership is None:
        return False
    return membership.is_staff_role or membership.client_id == client_id


def can_invite(user, role, client) -> bool:
    """Invite someone to `role`: staff by an agency admin; client users by the agency's admins and
    managers, or by that client's own admin."""
    actor_role = role_of(user)
    if role in STAFF:
        return actor_role in AGENCY_ADMINS
    if actor_role in STAFF:
        return actor_role in MANAGERS
    return actor_role in CLIENT_ADMINS and client is not None and _owns_client(user, client.pk)


def can_onboard_clients(user) -> bool:
    """Onboard a client and change its contract terms."""
    return role_of(user) in MANAGERS


def can_administer_client(user, client_id) -> bool:
    """The client's own admin: its onboarding wizard, API keys and colleagues' access."""
    return role_of(user) in CLIENT_ADMINS and _owns_client(user, client_id)


def can_administer_agency(user) -> bool:
    """Roles, agency settings, everyone's access."""
    return role_of(user) in AGENCY_ADMINS


def can_place(user, client) -> bool:
    """Place accounts for `client` (upload, form, saved mappings)."""
    return role_of(user) in PLACERS and _owns_client(user, client.pk)


def can_change_account(user, account) -> bool:
    """Add notes and documents on the account page."""
    return role_of(user) in ACCOUNT_EDITORS and _owns_client(user, account.client_id)


def can_message_agency(user, account) -> bool:
    """A client user (even read-only) writes to the agency on the account's timeline."""
    return role_of(user) in CLIENTS and _owns_client(user, account.client_id)


def can_recall_or_hold(user, account) -> bool:
    """Recall, hold or release an account: the client's decision."""
    return role_of(user) in CLIENT_ADMINS and _owns_client(user, account.client_id)


def can_work_accounts(user) -> bool:
    """Calls, promises, callbacks, emails, disputes, offers: agency staff."""
    return role_of(user) in STAFF


def can_manage_worklist(user) -> bool:
    """Queues, teams and email templates."""
    return role_of(user) in MANAGERS


def can_change_contact_policy(user) -> bool:
    return role_of(user) in AGENCY_ADMINS


def can_report_direct_payment(user, account) -> bool:
    """A payment the debtor made straight to the client is reported by the client's admin."""
    return role_of(user) in CLIENT_ADMINS and _owns_client(user, account.client_id)


def require(allowed: bool, message: str = "You are not allowed to do that.") -> None:
    """Raise NotAllowed(message) unless `allowed` (a `can_*` result)."""
    if not allowed:
        raise NotAllowed(message)
