"""Services for agencies, clients, memberships, invitations, contract terms and API keys.

Each is keyword-only, runs in one transaction, writes its audit event in that transaction and
returns what it changed. Emails leave after commit (portal.emails).
"""
from datetime import timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts import permissions
from accounts.models import (
    CLIENT_ROLES,
    STAFF_ROLES,
    Agency,
    ApiKey,
    Client,
    ContractTerms,
    FeeTier,
    Invitation,
    Membership,
    Role,
    User,
)
from portal.audit import audit_record, snapshot
from portal.emails import email_schedule
from portal.errors import DomainError
from portal.secrets import hashes_match, keyed_hash, new_token
from portal.tenancy import tenant_scope, unscoped

TERMS_FIELDS = [
    "fee_type", "flat_fee_percent", "settlement_floor_percent", "max_plan_months",
    "min_installment", "remittance_method", "remittance_day", "allocation_order",
]


# --- Invitations ---------------------------------------------------------------------------

def _check_can_invite(*, actor, role, client):
    if role in STAFF_ROLES:
        message = "Only an agency admin can invite agency staff."
    elif actor.membership.is_staff_role:
        message = "Only an agency admin or manager can invite client users."
    else:
        message = "Only your client's admin can invite colleagues."
    permissions.require(permissions.can_invite(actor, role, client), message)


def invitation_create(*, agency, actor, email, role, client=None) -> tuple[Invitation, str]:
    """Invite `email` to `role`; returns the invitation and its one-time token (for the email)."""
    email = email.strip().lower()
    if role in CLIENT_ROLES and client is None:
        raise DomainError("Choose the client this person will work for.", field="client")
    if role in STAFF_ROLES:
        client = None
    _check_can_invite(actor=actor, role=role, client=client)
    existing = User.objects.filter(email__iexact=email).first()
    # Only say so when the account is one the inviter can see anyway (memberships are tenant
    # scoped): whether an address is registered with another agency is not theirs to learn. Such
    # an invitation is sent as usual; its email tells the address's owner why it cannot be used.
    if existing is not None and Membership.objects.filter(user=existing).exists():
        raise DomainError(f"{email} is already a portal user here.", field="email")
    token = new_token()
    with transaction.atomic():
        # A new invitation replaces any pending one for the same address.
        Invitation.objects.filter(email=email, accepted_at__isnull=True, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        invitation = Invitation.objects.create(
            agency=agency, email=email, role=role, client=client, token_hash=keyed_hash(token),
            invited_by=actor, expires_at=timezone.now() + timedelta(days=settings.INVITATION_TTL_DAYS),
        )
        audit_record(action="invitation.created", actor=actor, agency=agency, client=client, obj=invitation,
                     after={"email": email, "role": role, "client": client.pk if client else None})
        link = settings.SITE_URL + reverse("invitation_accept", args=[token])
        email_schedule(
            key=f"invitation:{invitation.pk}", to=email, agency=agency, client=client,
            subject=f"{agency.name} invited you to the collections portal",
            template="invitation",
            context={"agency": agency, "client": client, "invitation": invitation, "inviter": actor,
                     "has_account": existing is not None},
            secrets={"link": link},
        )
    return invitation, token


def invitation_revoke(*, agency, actor, invitation) -> Invitation:
    _check_can_invite(actor=actor, role=invitation.role, client=invitation.client)
    with transaction.atomic():
        if invitation.status != "pending":
            raise DomainError(f"This invitation is already {invitation.status}.")
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        audit_record(action="invitation.revoked", actor=actor, agency=agency, client=invitation.client, obj=invitation)
    return invitation


def invitation_for_token(token: str) -> Invitation:
    """The pending invitation behind `token`, or a DomainError saying why it cannot be used.

    Tokens are looked up across tenants: the token itself is the credential."""
    with unscoped():
        invitation = Invitation.objects.select_related("agency", "client").filter(token_hash=keyed_hash(token)).first()
    if invitation is None:
        raise DomainError("This invitation link is not valid. Ask whoever invited you to send a new one.")
    if invitation.status != "pending":
        raise DomainError(f"This invitation has {invitation.status}. Ask whoever invited you to send a new one.")
    return invitation


def invitation_accept(*, token, full_name, password) -> User:
    """Spend the invitation: create the user (email verified by the link) and their membership."""
    invitation = invitation_for_token(token)
    with tenant_scope(invitation.agency_id), transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.status != "pending":
            raise DomainError(f"This invitation has {invitation.status}.")
        if User.objects.filter(email__iexact=invitation.email).exists():
            raise DomainError(f"{invitation.email} already has a portal account with another organisation, and a "
                              "portal account belongs to one organisation. Ask whoever invited you to invite "
                              "another address.")
        user = User.objects.create_user(email=invitation.email, password=password, full_name=full_name.strip(),
                                        time_zone=invitation.agency.time_zone)
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
        Membership.objects.create(agency=invitation.agency, user=user, client=invitation.client, role=invitation.role)
        invitation.accepted_at = timezone.now()
        invitation.save(update_fields=["accepted_at"])
        if invitation.client and invitation.client.status == Client.Status.INVITED:
            Client.objects.filter(pk=invitation.client_id).update(status=Client.Status.ONBOARDING)
        audit_record(action="invitation.accepted", actor=user, agency=invitation.agency,
                     client=invitation.client, obj=invitation, after={"role": invitation.role})
    return user


# --- Clients and contract terms ------------------------------------------------------------

def client_invite(*, agency, actor, name, admin_email) -> tuple[Client, Invitation]:
    """Create a client with default terms and invite its first admin."""
    permissions.require(permissions.can_onboard_clients(actor), "Only an agency admin or manager can onboard clients.")
    name = name.strip()
    if Client.objects.filter(name__iexact=name).exists():
        raise DomainError(f"A client named “{name}” already exists.", field="name")
    with transaction.atomic():
        client = Client.objects.create(agency=agency, name=name)
        ContractTerms.objects.create(agency=agency, client=client)
        audit_record(action="client.created", actor=actor, agency=agency, client=client, obj=client,
                     after={"name": name})
        invitation, _token = invitation_create(
            agency=agency, actor=actor, email=admin_email, role=Role.CLIENT_ADMIN, client=client
        )
    return client, invitation


def contract_terms_update(*, agency, actor, terms, values: dict, tiers: list[dict]) -> ContractTerms:
    """Replace a client's terms; `tiers` are dicts of min_age_days, max_age_days, fee_percent."""
    permissions.require(permissions.can_onboard_clients(actor),
                        "Only an agency admin or manager can change contract terms.")
    tiers = sorted(tiers, key=lambda t: t["min_age_days"])
    fee_tiers_check(values.get("fee_type"), tiers)
    with transaction.atomic():
        terms = ContractTerms.objects.select_for_update().get(pk=terms.pk)
        before = snapshot(terms, TERMS_FIELDS) | {"tiers": _tiers_picture(terms.fee_tiers.all())}
        for field in TERMS_FIELDS:
            setattr(terms, field, values.get(field) or getattr(terms, field))
        terms.full_clean()
        terms.save()
        terms.fee_tiers.all().delete()
        FeeTier.objects.bulk_create(FeeTier(agency=agency, terms=terms, **tier) for tier in tiers)
        after = snapshot(terms, TERMS_FIELDS) | {"tiers": _tiers_picture(terms.fee_tiers.all())}
        audit_record(action="terms.updated", actor=actor, agency=agency, client=terms.client, obj=terms,
                     before=before, after=after)
    return terms


def _tiers_picture(tiers):
    return [[t.min_age_days, t.max_age_days, str(t.fee_percent)] for t in tiers]


def fee_tiers_check(fee_type, tiers: list[dict]) -> None:
    """Tiered fees must cover every account age: tiers (dicts of min_age_days, max_age_days,
    fee_percent, sorted by min_age_days) start at 0 days, follow each other with no gap or
    overlap, and the last has no upper bound. Raises DomainError(field="tiers") saying which
    tier is wrong; nothing to check for a flat fee."""
    if fee_type != ContractTerms.FeeType.TIERED:
        return
    if not tiers:
        raise DomainError("Add at least one fee tier, or choose a flat percentage.", field="tiers")
    if tiers[0]["min_age_days"] != 0:
        raise DomainError("The first tier must start at 0 days so every account has a fee.", field="tiers")
    for number, (tier, following) in enumerate(zip(tiers, tiers[1:] + [None]), start=1):
        upper = tier["max_age_days"]
        if upper is not None and upper < tier["min_age_days"]:
            raise DomainError(f"Tier {number}: “to” ({upper}) is below “from” ({tier['min_age_days']}).", field="tiers")
        if following is None:
            if upper is not None:
                raise DomainError("The last tier must have no upper bound so older accounts have a fee.", field="tiers")
        elif upper is None or following["min_age_days"] != upper + 1:
            raise DomainError(
                f"Tier {number + 1} must start the day after tier {number} ends ({(upper or 0) + 1}); "
                "tiers may not overlap or leave gaps.", field="tiers")


# --- Client onboarding ----------------------------------------------------------------------

ONBOARDING_STEPS = ["company", "contacts", "remittance", "terms"]


def client_onboarding_save(*, agency, actor, client, step: str, values: dict) -> Client:
    """Save one wizard step and move the client on to the next."""
    permissions.require(permissions.can_administer_client(actor, client.pk),
                        "Only the client's admin can complete onboarding.")
    values = dict(values)
    with transaction.atomic():
        client = Client.objects.select_for_update().get(pk=client.pk)
        if step == "remittance":
            _apply_remittance(client, values)
        elif step == "terms":
            if not values.get("accept"):
                raise DomainError("Tick the box to accept the agency's terms.", field="accept")
            client.terms_accepted_at = timezone.now()
            client.terms_accepted_by = actor
            client.status = Client.Status.ACTIVE
        else:
            for field, value in values.items():
                setattr(client, field, value)
        client.onboarding_step = max(client.onboarding_step, ONBOARDING_STEPS.index(step) + 1)
        if client.status == Client.Status.INVITED:
            client.status = Client.Status.ONBOARDING
        client.save()
        audit_record(action=f"client.onboarding.{step}", actor=actor, agency=agency, client=client, obj=client,
                     after=_onboarding_picture(step, values))
    return client


def _apply_remittance(client, values):
    account_number = values.pop("account_number")
    routing_number = values.pop("routing_number")
    client.remittance_bank_name = values["bank_name"]
    client.remittance_account_name = values["account_name"]
    client.remittance_account_last4 = account_number[-4:]
    client.remittance_routing_last4 = routing_number[-4:]
    client.remittance_account_fingerprint = keyed_hash(f"{routing_number}:{account_number}")


def _onboarding_picture(step, values):
    if step == "remittance":  # never log bank numbers, only what the page shows
        return {"bank_name": values.get("bank_name"), "account_name": values.get("account_name")}
    return {k: (v if isinstance(v, (str, int, bool)) or v is None else str(v)) for k, v in values.items()}


# --- Team and agency settings -----------------------------------------------------------------

def membership_change_role(*, agency, actor, membership, role) -> Membership:
    permissions.require(permissions.can_administer_agency(actor), "Only an agency admin can change roles.")
    if membership.is_staff_role != (role in STAFF_ROLES):
        raise DomainError("Staff and client roles cannot be swapped; invite the person again instead.", field="role")
    with transaction.atomic():
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        before = membership.role
        if before == Role.AGENCY_ADMIN and role != Role.AGENCY_ADMIN and _last_admin(membership):
            raise DomainError("The agency needs at least one active agency admin.", field="role")
        membership.role = role
        membership.save(update_fields=["role"])
        audit_record(action="membership.role_changed", actor=actor, agency=agency, client=membership.client,
                     obj=membership, before={"role": before}, after={"role": role})
    return membership


def membership_set_active(*, agency, actor, membership, active: bool) -> Membership:
    permissions.require(permissions.can_administer_agency(actor) or (
        membership.client_id is not None and permissions.can_administer_client(actor, membership.client_id)),
        "You cannot change this person's access.")
    if membership.user_id == actor.pk:
        raise DomainError("You cannot deactivate yourself.")
    with transaction.atomic():
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        if not active and membership.role == Role.AGENCY_ADMIN and _last_admin(membership):
            raise DomainError("The agency needs at least one active agency admin.")
        membership.is_active = active
        membership.save(update_fields=["is_active"])
        audit_record(action="membership.activated" if active else "membership.deactivated", actor=actor,
                     agency=agency, client=membership.client, obj=membership)
    return membership


def _last_admin(membership) -> bool:
    others = Membership.objects.filter(role=Role.AGENCY_ADMIN, is_active=True).exclude(pk=membership.pk)
    return not others.exists()


def agency_settings_update(*, agency, actor, values: dict) -> Agency:
    permissions.require(permissions.can_administer_agency(actor), "Only an agency admin can change agency settings.")
    fields = ["name", "mfa_required_for_staff", "time_zone", "postal_address", "phone", "debtor_link_days",
              "autopay_hour", "autopay_retry_days", "autopay_max_tries"]
    with transaction.atomic():
        agency = Agency.objects.select_for_update().get(pk=agency.pk)
        before = snapshot(agency, fields)
        for field in fields:
            setattr(agency, field, values.get(field, getattr(agency, field)))
        agency.save()
        audit_record(action="agency.settings_changed", actor=actor, agency=agency, obj=agency,
                     before=before, after=snapshot(agency, fields))
    return agency


# --- API keys -------------------------------------------------------------------------------

API_KEY_PREFIX_LEN = 8


def api_key_create(*, agency, actor, client, name) -> tuple[ApiKey, str]:
    """Create a key; the full key is returned once and only its hash is stored."""
    permissions.require(permissions.can_administer_client(actor, client.pk), "Only the client's admin can create API keys.")
    secret = new_token()
    prefix = secret[:API_KEY_PREFIX_LEN]
    raw_key = f"{prefix}.{secret[API_KEY_PREFIX_LEN:]}"
    with transaction.atomic():
        key = ApiKey.objects.create(agency=agency, client=client, name=name.strip(), prefix=prefix,
                                    key_hash=keyed_hash(raw_key), created_by=actor)
        audit_record(action="api_key.created", actor=actor, agency=agency, client=client, obj=key,
                     after={"name": key.name, "prefix": prefix})
    return key, raw_key


def api_key_revoke(*, agency, actor, api_key) -> ApiKey:
    permissions.require(permissions.can_administer_client(actor, api_key.client_id),
                        "Only the client's admin can revoke API keys.")
    with transaction.atomic():
        if api_key.revoked_at is None:
            api_key.revoked_at = timezone.now()
            api_key.save(update_fields=["revoked_at"])
            audit_record(action="api_key.revoked", actor=actor, agency=agency, client=api_key.client, obj=api_key)
    return api_key


def api_key_authenticate(raw_key: str) -> ApiKey | None:
    """The active key for `raw_key`, or None. Looked up by its public prefix across tenants."""
    prefix = raw_key.split(".", 1)[0]
    with unscoped():
        key = ApiKey.objects.select_related("client", "agency").filter(prefix=prefix, revoked_at__isnull=True).first()
    if key is None or not hashes_match(raw_key, key.key_hash):
        return None
    with unscoped():
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
    return key
