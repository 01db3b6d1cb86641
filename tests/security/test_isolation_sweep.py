"""Isolation sweep: every URL the project serves is exercised against other tenants' data or is
exempted with a written reason.

Why a sweep: a new view that forgets `get_scoped_or_404`, or a page that lists rows outside the
tenant scope, is the costliest bug a multi-tenant portal can ship. The registry below is the
checklist. `test_every_route_is_in_the_registry` walks the URL resolver and fails as soon as a
route is added (or removed) without updating the registry, so nobody can add a page without
deciding how its isolation is tested.

Who is foreign to whom
    Alpha staff (admin, manager, collector): everything belonging to Bravo Collections.
    Alpha client 1 users (admin, read-only user): everything of Bravo, plus the Alpha rows outside
    client 1 (client 2's users, keys and invitations; Alpha's staff memberships and invitations).

What every exercised request checks (see `exercise`)
    - the status is the expected one (404 for anything outside the viewer's role or tenant);
    - the body names none of the viewer's foreign rows (distinctive canary names and emails);
    - no row outside the viewer's scope changed (snapshot of the foreign rows before and after).
"""
import secrets
from datetime import timedelta
from dataclasses import dataclass, field

import pytest
from django.db.models import Q
from django.urls import NoReverseMatch, URLResolver, get_resolver, reverse

from accounts import services
from accounts.models import (
    CLIENT_ROLES, STAFF_ROLES, Agency, ApiKey, Client, ContractTerms, FeeTier, Invitation, Membership, Role, User,
)
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from collections_work.placements import services as placement_services
from collections_work.placements import tasks as placement_tasks
from collections_work.models import (
    Activity, Callback, Contact, ContactPolicy, DebtorAccount, Dispute, Document, EmailTemplate, Letter, PrintBatch,
    Promise, Queue, Team,
)
from payments.posting.services import payment_post
from payments.models import (
    AcceptanceEvidence, AutopayAttempt, AutopayCard, CardCharge, Installment, Payment, PaymentPlan, PlanOffer, PlanRule,
    RemittanceStatement, SecureLink, StripeAccount, StripeEvent,
)
from portal.models import AuditEvent, OutboundEmail
from portal.tenancy import tenant_scope, unscoped

# --- The URL resolver ------------------------------------------------------------------------


def walk_routes(patterns=None, prefix="", namespace=""):
    """Yield (key, leaf pattern) for every endpoint. The key is the namespaced name (`admin:index`)
    or, for unnamed patterns, the full route string (`admin/accounts/client/<path:object_id>/`)."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk_routes(entry.url_patterns, route, inner)
        else:
            yield (f"{namespace}{entry.name}" if entry.name else route), entry


# --- Personas --------------------------------------------------------------------------------

PERSONAS = {  # label -> (where the user sits in `world`, their role)
    "admin": (lambda w: w.alpha.admin, Role.AGENCY_ADMIN),
    "manager": (lambda w: w.alpha.manager, Role.MANAGER),
    "collector": (lambda w: w.alpha.collector, Role.COLLECTOR),
    "client1_admin": (lambda w: w.alpha.clients[0].admin, Role.CLIENT_ADMIN),
    "client1_user": (lambda w: w.alpha.clients[0].user, Role.CLIENT_USER),
}


@dataclass
class Viewer:
    label: str
    user: User
    role: str
    agency: Agency
    client: Client | None  # client personas see one client, not the whole agency


def viewer_for(label, world) -> Viewer:
    find_user, role = PERSONAS[label]
    client = world.alpha.clients[0].client if role in CLIENT_ROLES else None
    return Viewer(label, find_user(world), role, world.alpha.agency, client)


# --- Canary rows: distinctive data in every tenant, so a leak shows up in a page ----------------

BRAVO_MARKERS = ("Bravo Collections", "@bravo.test", "Bravo canary key", "Bravo canary debtor", "Bravo canary queue",
                 "Bravo canary team", "Bravo canary template", "Bravo canary dispute", "pk_test_bravo_canary",
                 "7,777")  # Bravo's print batch of 7,777 letters
OUTSIDE_CLIENT1_MARKERS = (  # Alpha rows that client 1's users must never see
    "Alpha Recovery Client 2", "client2-admin@alpha.test", "client2-user@alpha.test",
    "alpha-client2-invitee@alpha.test", "alpha-staff-invitee@alpha.test", "Client 2 canary key",
    "manager@alpha.test", "collector@alpha.test", "Client 2 canary debtor",
)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"  # documents uploaded by the sweep's positive controls


@pytest.fixture
def rows(world):
    """Named rows in both agencies: clients, memberships, pending invitations and API keys.
    Made through the services, so Bravo also gets audit events naming them. Raw secrets (API keys,
    invitation tokens) are kept under `rows["raw"]`."""
    alpha, bravo = world.alpha, world.bravo
    named, raw = {}, {}

    def invite(name, agency, email, role, client=None):
        with tenant_scope(agency.agency):
            named[name], raw[name] = services.invitation_create(
                agency=agency.agency, actor=agency.admin, email=email, role=role, client=client)

    def api_key(name, persona, label):
        with tenant_scope(persona.client.agency_id, persona.client):
            named[name], raw[name] = services.api_key_create(
                agency=persona.client.agency, actor=persona.admin, client=persona.client, name=label)

    invite("bravo_staff_inv", bravo, "bravo-staff-invitee@bravo.test", Role.MANAGER)
    invite("bravo_client_inv", bravo, "bravo-client-invitee@bravo.test", Role.CLIENT_USER, bravo.clients[0].client)
    invite("alpha_staff_inv", alpha, "alpha-staff-invitee@alpha.test", Role.MANAGER)
    invite("alpha_client2_inv", alpha, "alpha-client2-invitee@alpha.test", Role.CLIENT_USER, alpha.clients[1].client)
    invite("alpha_client1_inv", alpha, "alpha-client1-invitee@alpha.test", Role.CLIENT_USER, alpha.clients[0].client)
    api_key("bravo_key", bravo.clients[0], "Bravo canary key")

    def debtor_account(name, agency, persona, reference, debtor_name):
        with tenant_scope(agency.agency, persona.client):
            _, placed = placement_services.accounts_place(
                agency=agency.agency, actor=persona.admin, client=persona.client, source="form",
                rows=[{"client_reference": reference, "debtor_name": debtor_name, "principal": "100.00",
                       "due_date": "2024-01-31"}])
        named[name] = placed[0]

    debtor_account("bravo_account", bravo, bravo.clients[0], "BRAVO-1", "Bravo canary debtor")
    debtor_account("alpha_client2_account", alpha, alpha.clients[1], "C2-1", "Client 2 canary debtor")
    debtor_account("alpha_client1_account", alpha, alpha.clients[0], "C1-1", "Client 1 own debtor")
    worklist_rows(named, alpha, bravo)
    payment_rows(named)
    outbox_rows(named)
    api_key("alpha_client2_key", alpha.clients[1], "Client 2 canary key")
    api_key("alpha_client1_key", alpha.clients[0], "Client 1 own key")

    def upload(name, agency, persona, *, check=False):
        """An uploaded file waiting for its mapping (or, with check=True, checked and ready to place)."""
        content = b"Reference,Debtor name,Balance\nU-1,Upload canary debtor,10.00\n"
        with tenant_scope(agency.agency, persona.client):
            batch = placement_services.placement_upload(
                agency=agency.agency, actor=persona.admin, client=persona.client,
                uploaded_file=SimpleUploadedFile(f"{name}.csv", content))
            placement_tasks.placement_inspect(batch.pk, agency.agency.pk)  # the worker reads it
            batch.refresh_from_db()
            if check:
                placement_services.placement_set_mapping(agency=agency.agency, actor=persona.admin, batch=batch,
                                                    mapping=batch.mapping, options={}, on_duplicate="skip")
                placement_tasks.placement_preview(batch.pk, agency.agency.pk)
                batch.refresh_from_db()
        named[name] = batch

    def payment_file(name, agency, persona, reference):
        """A bank lockbox file posted by the agency's manager for `persona`'s client, checked and
        ready to post (its row pays 1.00 on that client's account `reference`)."""
        day = (timezone.localdate() - timedelta(days=1)).isoformat()
        content = f"Transaction ID,Reference,Amount,Date\nT-1,{reference},1.00,{day}\n".encode()
        with tenant_scope(agency.agency):
            batch = placement_services.placement_upload(
                agency=agency.agency, actor=agency.manager, client=persona.client, kind="payments",
                uploaded_file=SimpleUploadedFile(f"{name}.csv", content))
            placement_tasks.placement_inspect(batch.pk, agency.agency.pk)
            batch.refresh_from_db()
            placement_services.placement_set_mapping(agency=agency.agency, actor=agency.manager, batch=batch,
                                                     mapping=batch.mapping, options={}, on_duplicate="skip")
            placement_tasks.placement_preview(batch.pk, agency.agency.pk)
            batch.refresh_from_db()
        named[name] = batch

    payment_file("bravo_payment_file", bravo, bravo.clients[0], "BRAVO-1")
    payment_file("alpha_client2_payment_file", alpha, alpha.clients[1], "C2-1")
    payment_file("alpha_client1_payment_file", alpha, alpha.clients[0], "C1-1")
    upload("bravo_upload", bravo, bravo.clients[0], check=True)
    upload("alpha_client2_upload", alpha, alpha.clients[1], check=True)
    upload("alpha_client1_upload", alpha, alpha.clients[0])
    upload("alpha_client1_checked", alpha, alpha.clients[0], check=True)
    with unscoped():
        memberships = {
            "bravo_manager_m": bravo.manager, "bravo_client_user_m": bravo.clients[0].user,
            "alpha_manager_m": alpha.manager, "alpha_collector_m": alpha.collector,
            "alpha_client1_user_m": alpha.clients[0].user, "alpha_client2_user_m": alpha.clients[1].user,
        }
        named |= {name: Membership.objects.get(user=user) for name, user in memberships.items()}
    named |= {"bravo_client": bravo.clients[0].client, "alpha_client1": alpha.clients[0].client,
              "alpha_client2": alpha.clients[1].client, "raw": raw}
    return named


def worklist_rows(named, alpha, bravo):
    """Queues, teams, templates and a dispute in both agencies. Alpha's own account is commercial
    under a round-the-clock contact policy, so the workspace's contact actions succeed at any hour
    the suite runs (the hours themselves are tested in tests/collections_work/test_compliance.py)."""
    for label, agency, account in (("Bravo canary", bravo, named["bravo_account"]),
                                   ("Alpha sweep", alpha, named["alpha_client1_account"])):
        prefix = "bravo" if agency is bravo else "alpha"
        with tenant_scope(agency.agency):
            named[f"{prefix}_queue"] = Queue.objects.create(agency=agency.agency, name=f"{label} queue", position=1,
                                                          all_collectors=True)
            named[f"{prefix}_team"] = Team.objects.create(agency=agency.agency, name=f"{label} team")
            named[f"{prefix}_template"] = EmailTemplate.objects.create(
                agency=agency.agency, name=f"{label} template", subject="About {reference}", body="Hello {debtor_name}")
            Contact.objects.create(agency=agency.agency, client_id=account.client_id, debtor_id=account.debtor_id,
                                   kind="email", value=f"debtor-{prefix}@example.test")
            ContactPolicy.objects.create(agency=agency.agency, earliest_hour=0, latest_hour=24)
            DebtorAccount.objects.filter(pk=account.pk).update(debt_purpose="commercial")
    with tenant_scope(bravo.agency):
        named["bravo_dispute"] = Dispute.objects.create(
            agency=bravo.agency, client_id=named["bravo_account"].client_id, account=named["bravo_account"],
            reason="Bravo canary dispute", opened_at=timezone.now())


def outbox_rows(named):
    """A failed email to a debtor in each agency (the outbox lists them, staff resend them)."""
    for prefix, subject in (("bravo", "Bravo canary debtor reminder"), ("alpha", "Alpha sweep reminder")):
        account = named[f"{prefix}_account" if prefix == "bravo" else "alpha_client1_account"]
        with tenant_scope(account.agency_id):
            named[f"{prefix}_email"] = OutboundEmail.objects.create(
                agency_id=account.agency_id, client_id=account.client_id, account_id=account.pk,
                idempotency_key=f"sweep:{prefix}", to=f"debtor-{prefix}@example.test", subject=subject,
                body_text="Hello", status=OutboundEmail.Status.FAILED, attempts=5, last_error="550 no such user",
                kind="installment_reminder")


def payment_rows(named):
    """Offers, secure links, plans and signed agreements on the three accounts (rows written
    directly: the flows that make them are tested in tests/payments/)."""
    for prefix in ("bravo", "alpha_client2", "alpha_client1"):
        account = named[f"{prefix}_account"]
        with tenant_scope(account.agency_id):
            Contact.objects.get_or_create(agency_id=account.agency_id, client_id=account.client_id,
                                          debtor_id=account.debtor_id, kind="phone", value="+1 212 555 0199")
            common = {"agency_id": account.agency_id, "client_id": account.client_id, "account": account,
                      "first_due_date": timezone.localdate() + timedelta(days=5)}
            named[f"{prefix}_offer"] = PlanOffer.objects.create(kind="lump_sum", total_amount="60.00", **common)
            named[f"{prefix}_awaiting"] = PlanOffer.objects.create(
                kind="lump_sum", total_amount="10.00", status="awaiting", outside_terms=["below the floor"], **common)
            accepted = PlanOffer.objects.create(kind="lump_sum", total_amount="90.00", status="accepted", **common)
            named[f"{prefix}_link"] = SecureLink.objects.create(
                agency_id=account.agency_id, client_id=account.client_id, account=account, channel="letter",
                token_hash=secrets.token_hex(32), expires_at=timezone.now() + timedelta(days=14))
            named[f"{prefix}_plan"] = plan = PaymentPlan.objects.create(
                agency_id=account.agency_id, client_id=account.client_id, account=account, offer=accepted,
                kind="lump_sum", total_amount="90.00", accepted_at=timezone.now())
            Installment.objects.create(agency_id=account.agency_id, client_id=account.client_id, plan=plan, number=1,
                                       due_date=timezone.localdate() + timedelta(days=5), amount="90.00")
            evidence = AcceptanceEvidence(
                agency_id=account.agency_id, client_id=account.client_id, account=account, link=named[f"{prefix}_link"],
                offer=accepted, plan=plan, typed_name=f"{prefix} signer", consented=True, disclosure_version="v",
                disclosure_sha256="0" * 64, accepted_at=timezone.now(), agreement_sha256="1" * 64)
            evidence.agreement_pdf.save("agreement.pdf", ContentFile(b"%PDF-1.4 sweep"), save=False)
            evidence.save()
            named[f"{prefix}_evidence"] = evidence
            named[f"{prefix}_payment"] = payment_post(
                agency=account.agency, actor=None, account=account, amount="5.00", received_on=timezone.localdate(),
                method="check", source="staff").payment
            statement = RemittanceStatement(
                agency_id=account.agency_id, client_id=account.client_id, period_start=timezone.localdate(),
                period_end=timezone.localdate(), issued_at=timezone.now(), pdf_sha256="0" * 64,
                totals={"to_remit": "3.75", "closing_receivable": "0.00", "closing_payable": "3.75", "method": "net",
                        "collected_by_agency": "5.00", "commission": "1.25", "commission_invoice": "0.00"})
            statement.pdf.save("s.pdf", ContentFile(f"%PDF {prefix} statement".encode()), save=False)
            statement.csv.save("s.csv", ContentFile(b"day,account"), save=False)
            statement.save()
            named[f"{prefix}_statement"] = statement
    for prefix, publishable in (("bravo", "pk_test_bravo_canary"), ("alpha", "pk_test_alpha_sweep")):
        agency_id = named[f"{prefix}_account" if prefix == "bravo" else "alpha_client1_account"].agency_id
        with tenant_scope(agency_id):
            keys = StripeAccount(agency_id=agency_id, publishable_key=publishable)
            keys.set_secret_key(f"sk_test_{prefix}_sweep_secret")
            keys.set_webhook_secret(f"whsec_{prefix}_sweep_secret")
            keys.save()
            named[f"{prefix}_stripe"] = keys
    for prefix, day, count in (("bravo", "2020-01-03", 7777), ("alpha", "2020-01-02", 2)):
        agency_id = named[f"{prefix}_account" if prefix == "bravo" else "alpha_client1_account"].agency_id
        with tenant_scope(agency_id):
            batch = PrintBatch(agency_id=agency_id, day=day, letter_count=count)
            batch.pdf.save("batch.pdf", ContentFile(f"%PDF {prefix} print batch".encode()), save=False)
            batch.save()
            named[f"{prefix}_print_batch"] = batch
            account = named[f"{prefix}_account" if prefix == "bravo" else "alpha_client1_account"]
            Contact.objects.create(agency_id=agency_id, client_id=account.client_id, debtor_id=account.debtor_id,
                                   kind="address",
                                   value=f"1 {prefix.title()} Letter St, Springfield, IL 62701, US")
            letter = Letter(agency_id=agency_id, client_id=account.client_id, account=account, kind="validation",
                            key="validation-notice", mailing_address=mailing_address(account))
            letter.pdf.save("letter.pdf", ContentFile(blank_pdf()), save=False)
            letter.save()  # queued for the next print batch


def mailing_address(account) -> str:
    from collections_work.letters.services import mailing_address as envelope

    return envelope(account)


def blank_pdf() -> bytes:
    import io

    from pypdf import PdfWriter

    writer, out = PdfWriter(), io.BytesIO()
    writer.add_blank_page(width=612, height=792)
    writer.write(out)
    return out.getvalue()


def foreign_markers(viewer, rows):
    markers = [*BRAVO_MARKERS, rows["bravo_key"].prefix]
    if viewer.client is not None:
        markers += [*OUTSIDE_CLIENT1_MARKERS, rows["alpha_client2_key"].prefix]
    return markers


# --- Snapshot of everything outside the viewer's scope ----------------------------------------

WATCHED = (  # model, lookup to its agency, lookup to its client (None: not owned by a client)
    (Agency, "pk", None),
    (Client, "agency", "pk"),
    (ContractTerms, "agency", "client"),
    (FeeTier, "agency", "terms__client"),
    (Membership, "agency", "client"),
    (Invitation, "agency", "client"),
    (ApiKey, "agency", "client"),
    (AuditEvent, "agency", "client"),
    (User, "membership__agency", "membership__client"),
    (DebtorAccount, "agency", "client"),
    (Activity, "agency", "client"),
    (Document, "agency", "client"),
    (Payment, "agency", "client"),
    (PlanOffer, "agency", "client"),
    (PlanRule, "agency", "client"),
    (SecureLink, "agency", "client"),
    (PaymentPlan, "agency", "client"),
    (Installment, "agency", "client"),
    (AcceptanceEvidence, "agency", "client"),
    (RemittanceStatement, "agency", "client"),
    (StripeAccount, "agency", None),
    (StripeEvent, "agency", None),
    (CardCharge, "agency", "client"),
    (AutopayCard, "agency", "client"),
    (AutopayAttempt, "agency", "client"),
    (Contact, "agency", "client"),
    (Promise, "agency", "client"),
    (Callback, "agency", "client"),
    (Dispute, "agency", "client"),
    (Queue, "agency", None),
    (Team, "agency", None),
    (EmailTemplate, "agency", None),
    (Letter, "agency", "client"),
    (PrintBatch, "agency", None),
    (OutboundEmail, "agency", "client"),
)


def foreign_snapshot(viewer):
    """Every row outside the viewer's scope, as plain values (a request must leave them alone;
    this also catches rows created in another tenant, e.g. an invitation or an audit event)."""
    picture = {}
    with unscoped():
        for model, agency_lookup, client_lookup in WATCHED:
            outside = ~Q(**{agency_lookup: viewer.agency.pk})
            if viewer.client is not None and client_lookup:
                outside |= ~Q(**{client_lookup: viewer.client.pk})
            picture[model.__name__] = {row["id"]: row for row in model.objects.filter(outside).values()}
    return picture


def changes_between(before, after):
    """Readable differences between two snapshots: rows created, deleted, or the fields changed."""
    lines = []
    for model, old_rows in before.items():
        for pk in sorted(old_rows.keys() | after[model].keys()):
            old, new = old_rows.get(pk), after[model].get(pk)
            if old is None or new is None:
                lines.append(f"{model} #{pk} {'created' if old is None else 'deleted'}: {new or old}")
            elif old != new:
                lines.append(f"{model} #{pk} changed: {({k: (old[k], new[k]) for k in old if old[k] != new[k]})}")
    return lines


def own_audit_events(viewer):
    """Every service writes an audit event for each change, so a growing count shows a POST worked."""
    with tenant_scope(viewer.agency, viewer.client):
        return AuditEvent.objects.count()


def exercise(browser, viewer, rows, method, url, data=None, *, expect):
    """Make one request as `viewer` and run the three checks every sweep request gets."""
    before = foreign_snapshot(viewer)
    response = getattr(browser, method)(url, data or {})
    where = f"{method.upper()} {url} {data or ''} as {viewer.label}"
    assert response.status_code in expect, f"{where}: got {response.status_code}, expected {expect}"
    body = response.content.decode(errors="replace")
    leaked = [marker for marker in foreign_markers(viewer, rows) if marker in body]
    assert not leaked, f"{where}: the response shows foreign data {leaked}"
    changed = changes_between(before, foreign_snapshot(viewer))
    assert not changed, f"{where}: changed rows outside the viewer's scope:\n" + "\n".join(changed)
    return response


# --- The registry: how each route is exercised, or why it is exempt ----------------------------

EVERYONE = frozenset(Role)
STAFF = frozenset(STAFF_ROLES)
MANAGERS = frozenset({Role.AGENCY_ADMIN, Role.MANAGER})
AGENCY_ADMIN = frozenset({Role.AGENCY_ADMIN})
CLIENTS = frozenset(CLIENT_ROLES)
CLIENT_ADMIN = frozenset({Role.CLIENT_ADMIN})


def no_data(_):
    return {}


@dataclass(frozen=True)
class Own:
    """A route with no object id: it shows or changes the viewer's own tenant only.

    Personas in `roles` get `ok` on each GET (one per `queries`, e.g. filters naming a foreign
    id) and 200/302 on each POST in `posts` (data naming foreign rows where that could matter);
    the page must show `shows` (own rows, so "no foreign rows" is not vacuous). Every other
    persona gets 404 on GET and on POST. `get=False` for POST-only routes."""
    roles: frozenset
    ok: tuple = (200,)
    get: bool = True
    queries: tuple = (no_data,)
    posts: tuple = ()
    shows: tuple = ()
    kwargs: dict = field(default_factory=dict)


OWN_ROUTES = {
    "outbox": Own(STAFF, shows=("Alpha sweep reminder", "550 no such user"),
                  queries=(no_data, lambda _r: {"q": "Bravo"}, lambda _r: {"state": "failed", "channel": "email"})),
    "home": Own(EVERYONE, ok=(302,)),
    "healthz": Own(EVERYONE),
    "api_schema": Own(EVERYONE),
    "api_docs": Own(EVERYONE),
    "agency_home": Own(STAFF, shows=("Alpha Recovery Client 2", "alpha-staff-invitee@alpha.test")),
    "client_list": Own(STAFF, shows=("Alpha Recovery Client 2",)),
    # Inviting an address Bravo has a pending invitation for must not revoke Bravo's invitation.
    "client_invite": Own(MANAGERS, posts=(
        lambda r: {"name": "Copycat Supplies", "admin_email": r["bravo_client_inv"].email},)),
    "team_list": Own(MANAGERS, shows=("collector@alpha.test", "alpha-staff-invitee@alpha.test")),
    "staff_invite": Own(AGENCY_ADMIN, get=False, posts=(
        lambda r: {"email": r["bravo_staff_inv"].email, "role": Role.MANAGER},)),
    "audit_log": Own(AGENCY_ADMIN, shows=("alpha-staff-invitee@alpha.test",), queries=(
        no_data,
        lambda r: {"client": r["bravo_client"].pk},
        lambda r: {"actor": "bravo.test"},
        lambda r: {"action": "invitation.created", "client": r["bravo_client"].pk},
    )),
    "agency_settings": Own(AGENCY_ADMIN, shows=("Alpha Recovery",), posts=(
        lambda r: {"name": "Alpha Recovery", "time_zone": "UTC"},)),
    # Connecting keys calls Stripe (tests/payments/test_online_payments.py connects them against
    # localstripe); here: who may open the page, and Bravo's keys never show on Alpha's.
    "stripe_settings": Own(AGENCY_ADMIN, shows=("/stripe/webhook/alpha/", "pk_test_alpha_sweep")),
    "client_home": Own(CLIENTS, shows=("Alpha Recovery Client 1",)),
    "client_offers": Own(CLIENTS, shows=("C1-1",)),
    "client_payments": Own(CLIENTS, shows=("C1-1",)),
    "statement_list": Own(MANAGERS | CLIENTS, shows=("3.75",)),
    "print_batch_list": Own(STAFF, shows=("Jan 2, 2020", "Mark mailed")),
    "print_batch_now": Own(STAFF, get=False, posts=(no_data,)),
    "ledger_overview": Own(AGENCY_ADMIN, shows=("Alpha Recovery Client 2",)),
    "payments_journal": Own(MANAGERS, shows=("Check",), queries=(
        no_data, lambda r: {"start": "2020-01-01", "end": "2030-12-31"})),
    "client_offer_summary": Own(CLIENTS, shows=("offer waits",)),
    "client_terms": Own(CLIENTS, shows=("Alpha Recovery Client 1",)),
    "client_team": Own(CLIENTS, shows=("client1-user@alpha.test", "alpha-client1-invitee@alpha.test")),
    # A client admin inviting an address pending at client 2 (or at Bravo) leaves that one alone.
    "client_user_invite": Own(CLIENT_ADMIN, get=False, posts=(
        lambda r: {"email": r["alpha_client2_inv"].email},
        lambda r: {"email": r["bravo_client_inv"].email},
    )),
    "client_onboarding": Own(CLIENT_ADMIN, ok=(302,)),
    "client_onboarding_step": Own(CLIENT_ADMIN, kwargs={"step": "company"}, shows=("Alpha Recovery Client 1",), posts=(
        lambda r: {"legal_name": "Client One LLC", "address_line1": "1 Main St", "city": "Springfield",
                   "postal_code": "12345", "country": "US"},)),
    "api_keys": Own(CLIENT_ADMIN, shows=("Client 1 own key",), posts=(lambda r: {"name": "Fresh key"},)),
    # Client users' `client` parameter is ignored; a foreign client or placement id lists nothing foreign.
    "debtor_account_list": Own(STAFF | CLIENTS, shows=("Client 1 own debtor",), queries=(
        no_data,
        lambda r: {"client": r["bravo_client"].pk},
        lambda r: {"client": r["alpha_client2"].pk},
        lambda r: {"batch": r["bravo_account"].placement_batch_id},
        lambda r: {"batch": r["alpha_client2_account"].placement_batch_id},
        lambda r: {"q": "canary"},
    )),
    "placement_list": Own(STAFF | CLIENTS, shows=("alpha_client1_upload.csv",)),
    "placement_summary": Own(STAFF | CLIENTS, shows=("alpha_client1_upload.csv",)),
    "placement_upload": Own(MANAGERS | CLIENT_ADMIN, posts=(
        lambda r: {"client": r["alpha_client1"].pk,
                   "file": SimpleUploadedFile("x.csv", b"Reference,Debtor name,Balance\nX,Y,1\n")},)),
    "debtor_account_new": Own(MANAGERS | CLIENT_ADMIN, posts=(
        # Bravo's reference, placed for our own client: Bravo's account must stay as it was.
        lambda r: {"client": r["alpha_client1"].pk, "debtor_kind": "business", "debtor_name": "Sneaky",
                   "client_reference": "BRAVO-1", "principal": "5", "debt_purpose": "commercial",
                   "on_duplicate": "update"},)),
    "intake_summary": Own(MANAGERS, shows=("Alpha Recovery Client 1",)),
    "payment_batch_list": Own(MANAGERS, shows=("alpha_client1_payment_file.csv", "alpha_client2_payment_file.csv")),
    # A payment file for our own client naming Bravo's reference finds no account (its row is rejected).
    "payment_batch_upload": Own(MANAGERS, posts=(
        lambda r: {"client": r["alpha_client1"].pk,
                   "file": SimpleUploadedFile("p.csv", b"Transaction ID,Reference,Amount,Date\nX-1,BRAVO-1,1.00,2024-01-31\n")},)),
    "worklist_home": Own(STAFF, shows=("All open accounts", "Alpha sweep queue")),
    "worklist_manage": Own(MANAGERS, shows=("Alpha sweep queue", "Alpha sweep team", "Alpha sweep template"),
                           queries=(no_data, lambda r: {"start": "2020-01-01", "end": "2030-01-01"})),
    # A queue or team naming Bravo's client or staff is refused by the form (tests/collections_work/worklist/test_worklist.py).
    "queue_new": Own(MANAGERS, posts=(lambda r: {
        "name": "Sweep queue", "position": "3", "assignment": "any",
        "clients": [r["alpha_client1"].pk]},)),
    "contact_policy_edit": Own(AGENCY_ADMIN, shows=("Earliest hour",), posts=(
        lambda r: {"earliest_hour": "7", "latest_hour": "22", "commercial_weekly_call_cap": "10"},)),
    "worklist_team_new": Own(MANAGERS, posts=(lambda r: {"name": "Sweep team", "members": [r["alpha_collector_m"].user_id]},)),
    "email_template_new": Own(MANAGERS, posts=(lambda r: {
        "name": "Sweep template", "subject": "Your account {reference}", "body": "Hello", "active": "on"},)),
}


def terms_form(_target):
    return {"fee_type": "flat", "flat_fee_percent": "1.00", "settlement_floor_percent": "10.00",
            "max_plan_months": "3", "min_installment": "5.00", "remittance_method": "gross",
            "remittance_day": "2", "tiers-TOTAL_FORMS": "0", "tiers-INITIAL_FORMS": "0"}


def promote(target):
    """The most powerful role the target's kind of membership can get."""
    return {"role": Role.AGENCY_ADMIN if target.role in STAFF_ROLES else Role.CLIENT_ADMIN}


@dataclass(frozen=True)
class ById:
    """A route that takes a row's id. Every Alpha persona aiming `calls` at a foreign row of
    `kind` (see TARGETS) gets 404 and the row stays as it was. `own` lists positive controls
    (persona, own row): the same calls succeed there, so the 404s are not a broken URL or form."""
    kind: str
    calls: tuple  # (method, data builder taking the target row)
    own: tuple


GET = ("get", no_data)

TARGETS = {  # kind -> (Bravo rows: foreign to everyone, Alpha rows outside client 1: foreign to its users)
    "client": (("bravo_client",), ("alpha_client2",)),
    "membership": (("bravo_manager_m", "bravo_client_user_m"), ("alpha_manager_m", "alpha_client2_user_m")),
    "invitation": (("bravo_staff_inv", "bravo_client_inv"), ("alpha_staff_inv", "alpha_client2_inv")),
    "api_key": (("bravo_key",), ("alpha_client2_key",)),
    "debtor_account": (("bravo_account",), ("alpha_client2_account",)),
    # Payment files (payments' batch kind) go through the same routes as placements.
    "placement": (("bravo_upload", "bravo_payment_file"), ("alpha_client2_upload", "alpha_client2_payment_file")),
    "queue": (("bravo_queue",), ()),
    "team": (("bravo_team",), ()),
    "email_template": (("bravo_template",), ()),
    "offer": (("bravo_offer", "bravo_awaiting"), ("alpha_client2_offer", "alpha_client2_awaiting")),
    "link": (("bravo_link",), ("alpha_client2_link",)),
    "plan": (("bravo_plan",), ("alpha_client2_plan",)),
    "evidence": (("bravo_evidence",), ("alpha_client2_evidence",)),
    "payment": (("bravo_payment",), ("alpha_client2_payment",)),
    "statement": (("bravo_statement",), ("alpha_client2_statement",)),
    "print_batch": (("bravo_print_batch",), ()),
    "email": (("bravo_email",), ()),
}


def mapping_form(_target):
    return {"map_client_reference": "0", "map_debtor_name": "1", "map_principal": "2", "amount_format": "dot",
            "date_format": "%m/%d/%Y", "default_debt_purpose": "unknown", "on_duplicate": "update", "save_as": ""}


def in_days(days):
    return (timezone.localdate() + timedelta(days=days)).isoformat()


def email_form(target):
    """The target account's own template and email contact (the form refuses others' ids anyway)."""
    with unscoped():
        template = EmailTemplate.objects.filter(agency_id=target.agency_id).first()
        contact = Contact.objects.filter(debtor_id=target.debtor_id, kind="email").first()
    return {"template": template.pk, "contact": contact.pk if contact else ""}


def today_payment(_target):
    return {"amount": "1.00", "received_on": timezone.localdate().isoformat()}

BY_ID_ROUTES = {
    "outbox_email_resend": ById("email", (("post", no_data),), own=(("collector", "alpha_email"),)),
    "client_detail": ById("client", (GET,), own=(("collector", "alpha_client1"),)),
    "client_terms_edit": ById("client", (GET, ("post", terms_form)), own=(("manager", "alpha_client1"),)),
    "client_user_invite_by_staff": ById(
        "client", (("post", lambda _: {"email": "sneaky-invitee@example.test"}),),
        own=(("manager", "alpha_client1"),)),
    "membership_role": ById("membership", (("post", promote),), own=(("admin", "alpha_collector_m"),)),
    "membership_active": ById("membership", (("post", lambda _: {"active": "0"}),),
                              own=(("admin", "alpha_collector_m"), ("client1_admin", "alpha_client1_user_m"))),
    "invitation_revoke": ById("invitation", (("post", no_data),),
                              own=(("admin", "alpha_staff_inv"), ("client1_admin", "alpha_client1_inv"))),
    "api_key_revoke": ById("api_key", (("post", no_data),), own=(("client1_admin", "alpha_client1_key"),)),
    "debtor_account_detail": ById("debtor_account", (GET,), own=(
        ("collector", "alpha_client1_account"), ("client1_user", "alpha_client1_account"))),
    "debtor_account_set_status": ById(
        "debtor_account", (("post", lambda _: {"status": "on_hold", "reason": "sweep"}),),
        own=(("client1_admin", "alpha_client1_account"),)),
    "debtor_account_note": ById("debtor_account", (("post", lambda _: {"text": "sweep note"}),), own=(
        ("collector", "alpha_client1_account"), ("client1_admin", "alpha_client1_account"))),
    "debtor_account_message": ById("debtor_account", (("post", lambda _: {"text": "sweep message"}),), own=(
        ("client1_user", "alpha_client1_account"),)),
    "debtor_account_document_add": ById(
        "debtor_account", (("post", lambda _: {"file": SimpleUploadedFile("sweep.txt", b"sweep")}),),
        own=(("manager", "alpha_client1_account"), ("client1_admin", "alpha_client1_account"))),
    "debtor_account_payment_report": ById("debtor_account", (("post", today_payment),), own=(
        ("client1_admin", "alpha_client1_account"),)),
    "placement_detail": ById("placement", (GET,), own=(
        ("client1_user", "alpha_client1_checked"), ("collector", "alpha_client1_checked"),
        ("manager", "alpha_client1_payment_file"))),
    "placement_progress": ById("placement", (GET,), own=(("client1_user", "alpha_client1_checked"),)),
    "placement_mapping": ById("placement", (GET, ("post", mapping_form)), own=(
        ("client1_admin", "alpha_client1_upload"), ("manager", "alpha_client1_upload"))),
    "placement_commit": ById("placement", (("post", no_data),), own=(("client1_admin", "alpha_client1_checked"),
                                                                     ("manager", "alpha_client1_payment_file"))),
    "placement_cancel": ById("placement", (("post", no_data),), own=(("client1_admin", "alpha_client1_upload"),)),
    "queue_detail": ById("queue", (GET,), own=(("collector", "alpha_queue"),)),
    "queue_edit": ById("queue", (GET, ("post", lambda q: {
        "name": "Renamed", "position": "4", "assignment": "unassigned"})),
        own=(("manager", "alpha_queue"),)),
    "queue_delete": ById("queue", (("post", no_data),), own=(("admin", "alpha_queue"),)),
    "worklist_team_edit": ById("team", (GET, ("post", lambda _: {"name": "Renamed team"})), own=(("manager", "alpha_team"),)),
    "email_template_edit": ById("email_template", (GET, ("post", lambda _: {
        "name": "Renamed template", "subject": "S", "body": "B"})), own=(("admin", "alpha_template"),)),
    "account_workspace": ById("debtor_account", (GET,), own=(("collector", "alpha_client1_account"),)),
    "workspace_call": ById("debtor_account", (("post", lambda _: {"outcome": "no_answer", "note": "sweep"}),),
                           own=(("collector", "alpha_client1_account"),)),
    "workspace_note": ById("debtor_account", (("post", lambda _: {"text": "sweep"}),),
                           own=(("collector", "alpha_client1_account"),)),
    "workspace_promise": ById("debtor_account", (("post", lambda _: {"amount": "10.00", "due_date": in_days(3)}),),
                              own=(("collector", "alpha_client1_account"),)),
    "workspace_callback": ById("debtor_account", (("post", lambda _: {
        "due_at": timezone.localtime(timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")}),),
        own=(("manager", "alpha_client1_account"),)),
    "workspace_email": ById("debtor_account", (("post", email_form),), own=(("collector", "alpha_client1_account"),)),
    "workspace_dispute": ById("debtor_account", (("post", lambda _: {"reason": "sweep dispute"}),),
                              own=(("collector", "alpha_client1_account"),)),
    "workspace_cease": ById("debtor_account", (("post", lambda _: {"confirm": "on", "note": "letter"}),),
                            own=(("collector", "alpha_client1_account"),)),
    "workspace_status": ById("debtor_account", (("post", lambda _: {"status": "active", "reason": "sweep"}),),
                             own=(("collector", "alpha_client1_account"),)),
    "workspace_time_zone": ById("debtor_account", (("post", lambda _: {"time_zone": "Pacific/Honolulu"}),),
                                own=(("collector", "alpha_client1_account"),)),
    "workspace_offer": ById("debtor_account", (("post", lambda _: {
        "kind": "lump_sum", "total_amount": "50.00", "installment_count": "1", "first_due_date": in_days(5)}),),
        own=(("collector", "alpha_client1_account"),)),
    "workspace_invitation": ById("debtor_account", (("post", lambda _: {"channel": "email"}),),
                                 own=(("collector", "alpha_client1_account"),)),
    "agreement_verify": ById("debtor_account", (("post", lambda _: {
        "file": SimpleUploadedFile("back.pdf", b"%PDF-1.4 sweep")}),), own=(("manager", "alpha_client1_account"),)),
    "offer_send": ById("offer", (("post", lambda _: {"channel": "email"}),), own=(("collector", "alpha_client1_offer"),)),
    "offer_withdraw": ById("offer", (("post", no_data),), own=(("collector", "alpha_client1_offer"),)),
    "offer_decide": ById("offer", (("post", lambda _: {"decision": "approve", "note": "sweep"}),),
                         own=(("client1_admin", "alpha_client1_awaiting"),)),
    "link_revoke": ById("link", (("post", no_data),), own=(("collector", "alpha_client1_link"),)),
    "payment_post": ById("debtor_account", (("post", lambda _: {
        "amount": "1.00", "received_on": timezone.localdate().isoformat(), "method": "cash", "received_by": "agency",
        "idempotency_key": secrets.token_hex(8)}),), own=(("collector", "alpha_client1_account"),)),
    "payment_reverse": ById("payment", (("post", lambda _: {
        "kind": "bounced_check", "reason": "sweep", "idempotency_key": secrets.token_hex(8)}),),
        own=(("manager", "alpha_client1_payment"),)),
    "client_ledger": ById("client", (GET,), own=(("admin", "alpha_client1"),)),
    "statement_remitted": ById("statement", (("post", lambda _: {"confirm": "sent"}),),
                               own=(("admin", "alpha_client1_statement"),)),
    "statement_correct": ById("statement", (("post", lambda _: {"note": "sweep correction"}),),
                              own=(("admin", "alpha_client1_statement"),)),
    "print_batch_mailed": ById("print_batch", (("post", no_data),), own=(("collector", "alpha_print_batch"),)),
    "plan_cancel": ById("plan", (("post", lambda _: {"reason": "sweep"}),), own=(("manager", "alpha_client1_plan"),)),
    "plan_rules": ById("client", (GET, ("post", lambda _: {
        "form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "0", "form-0-balance_from": "0.00", "form-0-min_installment": "5",
        "form-0-max_months": "6", "form-0-min_settlement_percent": "50", "form-0-max_defer_days": "10"})),
        own=(("admin", "alpha_client1"),)),
}

SPECIAL = {  # routes with dedicated tests below (or in the named files)
    "placement_rejected_rows": "FileResponse (streamed): tests/collections_work/placements/test_intake_pages.py "
                               "test_rejected_rows_of_another_tenant_are_404.",
    "debtor_account_export": "Streams a file (no .content for exercise()): tests/collections_work/debtor_accounts/test_account_pages.py "
                             "test_exports_never_include_foreign_accounts, test_export_of_a_client_user_never_includes_"
                             "another_client.",
    "debtor_account_document_download": "FileResponse (streamed): tests/collections_work/debtor_accounts/test_account_pages.py "
                                        "test_foreign_accounts_and_documents_are_404_on_every_route, "
                                        "test_document_upload_and_scoped_download, "
                                        "test_internal_documents_and_missing_files_are_404_for_clients.",
    "api_client_profile": "API-key authenticated: test_api_key_sees_only_its_own_client, "
                          "test_bad_or_missing_api_credentials_are_refused.",
    **{name: "API-key authenticated (placement API): tests/collections_work/api/test_api.py "
             "test_a_key_sees_and_places_only_for_its_own_client, test_a_filter_naming_another_clients_batch_shows_"
             "nothing, test_the_api_refuses_missing_wrong_and_revoked_keys."
       for name in ("api_accounts", "api_accounts_bulk", "api_account_detail")},
    **{name: "API-key authenticated (files as placement batches): tests/collections_work/api/"
             "test_placement_files.py test_a_key_sees_and_drives_only_its_own_clients_batches (another "
             "client's and another agency's key get 404 on every batch route and list none of its batches)."
       for name in ("api_placements", "api_placement_detail", "api_placement_check", "api_placement_sheet",
                    "api_placement_commit", "api_placement_cancel", "api_placement_rejected_rows",
                    "api_placement_rejected_rows_csv")},
    "worklist_next": "Claims for the signed-in collector only, no ids in the request: tests/collections_work/"
                     "worklist/test_worklist.py test_next_account_never_hands_out_another_agencys_account.",
    "workspace_release": "Gives back only what the signed-in collector holds (no audit event to see it work): "
                         "tests/collections_work/worklist/test_worklist.py test_give_back_releases_only_your_own_claim.",
    "workspace_dispute_resolve": "Two ids (account, dispute): tests/collections_work/worklist/test_worklist.py "
                                 "test_resolving_a_foreign_dispute_is_404.",
    "contact_opt_out": "Signed-token route for debtors (no sign-in): tests/collections_work/worklist/test_worklist.py "
                       "test_opt_out_link_works_once_and_only_for_its_contact, test_tampered_opt_out_link_is_404.",
    "invitation_accept": "Token route, the token is the credential: test_unknown_invitation_token_is_410, "
                         "test_signed_in_persona_cannot_use_a_foreign_invitation.",
    "agreement_download": "FileResponse (streamed): test_agreement_downloads_are_scoped below.",
    "statement_file": "FileResponse (streamed): test_statement_files_are_scoped below.",
    "print_batch_file": "FileResponse (streamed): test_print_batch_files_are_scoped below.",
    "api_payments": "API-key authenticated: tests/payments/test_posting.py "
                    "test_the_api_reports_a_direct_payment_once_per_key (another client's key lists nothing).",
    **{name: "The debtor's pages: the secure link is the credential (no sign-in). tests/security/"
             "test_debtor_isolation.py drives every one of them with another account's token, ids and session."
       for name in ("debtor_landing", "debtor_account", "debtor_offer", "debtor_plan", "debtor_dispute",
                    "debtor_callback", "debtor_opt_out", "debtor_agreement", "debtor_sign_out")},
    **{name: "The debtor's card payment pages: the secure link is the credential. tests/security/"
             "test_debtor_isolation.py drives them with another account's token and session, and "
             "test_a_payment_made_on_another_link_is_404_on_ones_own; tests/payments/test_online_payments.py "
             "test_a_setup_intent_of_another_link_is_refused."
       for name in ("debtor_pay", "debtor_pay_result", "debtor_autopay")},
    "stripe_webhook": "Stripe's webhook: no session, no CSRF; the agency's signing secret is the credential. "
                      "tests/payments/test_online_payments.py test_a_wrong_signature_is_400_and_posts_nothing, "
                      "test_a_webhook_signed_for_one_agency_is_refused_by_another, "
                      "test_an_event_of_another_agency_is_ignored; test_stripe_webhook_of_one_agency_changes_"
                      "nothing_of_another below.",
    "signin_unlock": "Signed-token route for the owner of a locked address (no sign-in, no tenant rows; it clears "
                     "that address's failed sign-ins only): tests/accounts/test_lockout.py "
                     "test_lockout_and_unlock_by_the_emailed_link_are_audited, "
                     "test_the_unlock_link_expires_and_cannot_be_forged.",
}

_ALLAUTH = ("allauth page acting only on the signed-in user's own login, email addresses, password or "
            "authenticators; it holds no tenant rows. Smoke-tested by test_exempt_allauth_pages_show_no_foreign_data.")
_ALLAUTH_KEYED = "allauth link keyed by a one-time secret for one user's email or password; holds no tenant rows."
EXEMPT = {
    **{name: _ALLAUTH for name in (
        "account_login", "account_logout", "account_inactive", "account_signup", "account_reauthenticate",
        "account_email", "account_email_verification_sent", "account_change_password", "account_set_password",
        "account_reset_password", "account_confirm_login_code", "account_reset_password_from_key_done",
        "account_reset_password_done", "account_request_reauthentication_code",
        "account_confirm_reauthentication_code", "mfa_index", "mfa_authenticate", "mfa_reauthenticate",
        "mfa_activate_totp", "mfa_deactivate_totp", "mfa_view_recovery_codes", "mfa_generate_recovery_codes",
        "mfa_download_recovery_codes")},
    "account_confirm_email": _ALLAUTH_KEYED,
    "account_reset_password_from_key": _ALLAUTH_KEYED,
}
_ADMIN = ("Django admin: superuser-only (admin.site.has_permission), runs in the all-tenants scope by design. "
          "test_admin_turns_away_everyone_but_superusers checks every named admin URL redirects the personas.")
EXEMPT_PREFIXES = {  # whole families, so a new ModelAdmin needs no registry edit
    "admin:": _ADMIN,
    "admin/": _ADMIN + " (unnamed admin redirects and its catch-all)",
}


def registry_entry(key):
    for table in (OWN_ROUTES, BY_ID_ROUTES, SPECIAL, EXEMPT):
        if key in table:
            return table[key]
    return next((reason for prefix, reason in EXEMPT_PREFIXES.items() if key.startswith(prefix)), None)


# --- The registry matches the resolver -----------------------------------------------------------

def test_every_route_is_in_the_registry():
    """A route nobody registered has had nobody decide how its isolation is tested."""
    found = {key for key, _ in walk_routes()}
    missing = sorted(key for key in found if registry_entry(key) is None)
    assert not missing, (
        f"Routes with no isolation check: {missing}. Add each to OWN_ROUTES or BY_ID_ROUTES (how to exercise "
        "it against another tenant) or to EXEMPT with the reason, in tests/security/test_isolation_sweep.py.")
    named = [*OWN_ROUTES, *BY_ID_ROUTES, *SPECIAL, *EXEMPT]
    stale = sorted({key for key in named if key not in found}
                   | {prefix for prefix in EXEMPT_PREFIXES if not any(key.startswith(prefix) for key in found)})
    assert not stale, f"The registry names routes that no longer exist: {stale}; remove them."
    twice = sorted({key for key in named if named.count(key) > 1})
    assert not twice, f"Routes registered twice (pick one way to test them): {twice}"
    assert all(isinstance(reason, str) and reason.strip() for reason in [*EXEMPT.values(), *EXEMPT_PREFIXES.values()])


# --- Routes acting on the viewer's own tenant ------------------------------------------------------

@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("route", OWN_ROUTES)
def test_own_tenant_route(route, persona, world, rows, client):
    """Allowed roles see only their own tenant and change nothing outside it; other roles get 404."""
    spec, viewer = OWN_ROUTES[route], viewer_for(persona, world)
    client.force_login(viewer.user)
    url = reverse(route, kwargs=spec.kwargs)
    allowed = viewer.role in spec.roles
    if spec.get or not allowed:
        for query in spec.queries:
            response = exercise(client, viewer, rows, "get", url, query(rows), expect=spec.ok if allowed else (404,))
            if allowed and query is no_data:
                missing = [text for text in spec.shows if text not in response.content.decode()]
                assert not missing, f"GET {url} as {persona} should show the viewer's own {missing}"
    for post in spec.posts if allowed else (spec.posts or (no_data,)):
        events_before = own_audit_events(viewer)
        exercise(client, viewer, rows, "post", url, post(rows), expect=(200, 302) if allowed else (404,))
        if allowed:  # the POST must really have done something, or its isolation check proves nothing
            assert own_audit_events(viewer) > events_before, f"POST {url} {post(rows)} as {persona} changed nothing"


# --- Routes taking another row's id ------------------------------------------------------------

def foreign_targets(kind, viewer, rows):
    bravo_rows, outside_client1 = TARGETS[kind]
    return [rows[name] for name in bravo_rows + (outside_client1 if viewer.client is not None else ())]


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("route", BY_ID_ROUTES)
def test_foreign_row_is_404_and_left_unchanged(route, persona, world, rows, client):
    """Another tenant's id answers exactly like an id that does not exist, and nothing happens to it."""
    spec, viewer = BY_ID_ROUTES[route], viewer_for(persona, world)
    client.force_login(viewer.user)
    for target in foreign_targets(spec.kind, viewer, rows):
        for method, data in spec.calls:
            exercise(client, viewer, rows, method, reverse(route, args=[target.pk]), data(target), expect=(404,))


@pytest.mark.parametrize("route, persona, row", [
    (route, persona, row) for route, spec in BY_ID_ROUTES.items() for persona, row in spec.own])
def test_own_row_positive_control(route, persona, row, world, rows, client):
    """Without this, a typo in the URL or form data would make every 404 above pass vacuously.
    Every successful service call writes an audit event, which is how a POST is seen to work."""
    viewer, target = viewer_for(persona, world), rows[row]
    client.force_login(viewer.user)
    for method, data in BY_ID_ROUTES[route].calls:
        events_before = own_audit_events(viewer)
        exercise(client, viewer, rows, method, reverse(route, args=[target.pk]), data(target),
                 expect=(200,) if method == "get" else (302,))
        if method == "post":
            assert own_audit_events(viewer) > events_before, f"POST {route} on own {row} changed nothing"


def test_anonymous_visitors_are_sent_to_sign_in(world, rows, client):
    """With no session there is no tenant scope at all: every tenant route must stop at sign-in."""
    login = reverse("account_login")
    urls = [reverse(route, kwargs=spec.kwargs) for route, spec in OWN_ROUTES.items() if spec.roles != EVERYONE]
    urls += [reverse(route, args=[rows[TARGETS[spec.kind][0][0]].pk]) for route, spec in BY_ID_ROUTES.items()]
    for url in urls:
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code == 302 and response.url.startswith(login), f"{method.upper()} {url}"


# --- REST API -----------------------------------------------------------------------------------

API_URL = "/api/v1/client/"


@pytest.mark.parametrize("key, owner", [
    ("alpha_client1_key", "alpha_client1"), ("alpha_client2_key", "alpha_client2"), ("bravo_key", "bravo_client")])
def test_api_key_sees_only_its_own_client(key, owner, rows, client):
    """The key, not anything in the request, decides the client the API answers for."""
    response = client.get(API_URL, HTTP_AUTHORIZATION=f"Api-Key {rows['raw'][key]}")
    assert response.status_code == 200
    assert response.json()["id"] == rows[owner].pk and response.json()["name"] == rows[owner].name
    others = [rows[name].name for name in ("alpha_client1", "alpha_client2", "bravo_client") if name != owner]
    assert not [name for name in others if name in response.content.decode()]


def test_bad_or_missing_api_credentials_are_refused(world, rows, client):
    """Revoked, made-up, spliced or mis-labelled keys, and plain browser sessions, get 401/403."""
    raw = rows["raw"]
    alpha_secret = raw["alpha_client1_key"].split(".", 1)[1]
    with tenant_scope(world.alpha.agency, rows["alpha_client1"]):
        revoked, revoked_raw = services.api_key_create(agency=world.alpha.agency, actor=world.alpha.clients[0].admin,
                                                       client=rows["alpha_client1"], name="Soon revoked")
        services.api_key_revoke(agency=world.alpha.agency, actor=world.alpha.clients[0].admin, api_key=revoked)
    headers = [
        f"Api-Key {revoked_raw}",
        f"Api-Key {secrets.token_urlsafe(32)}",
        "Api-Key garbage", "Api-Key ", "Api-Key ...", f"Api-Key {rows['alpha_client1_key'].prefix}",
        f"Api-Key {rows['bravo_key'].prefix}.{alpha_secret}",  # another client's prefix, our secret
        f"Api-Key {raw['alpha_client1_key'][:-2]}zz",
        f"Bearer {raw['alpha_client1_key']}", f"api-key {raw['alpha_client1_key']}",
    ]
    for header in headers:
        response = client.get(API_URL, HTTP_AUTHORIZATION=header)
        assert response.status_code in (401, 403), header
    for persona in PERSONAS:  # a browser session is not an API credential
        client.force_login(viewer_for(persona, world).user)
        assert client.get(API_URL).status_code in (401, 403), persona


# --- Invitation links ------------------------------------------------------------------------------

ODD_TOKENS = {"random": None, "zero": "0", "long": "x" * 500, "dots": "..", "unicode": "%C3%A9t%C3%A9", "nul": "%00"}


@pytest.mark.parametrize("token", ODD_TOKENS)
def test_unknown_invitation_token_is_410(token, world, client):
    """A made-up or mangled token gets the "invitation unavailable" page, never a 500."""
    token = ODD_TOKENS[token] or secrets.token_urlsafe(32)  # drawn here: xdist workers must collect the same ids
    password = "a-long-enough-passphrase-7"
    form = {"full_name": "Mallory", "password1": password, "password2": password}
    for method, data in (("get", {}), ("post", form)):
        response = getattr(client, method)(f"/invitations/{token}/", data)
        assert response.status_code == 410 and b"Invitation unavailable" in response.content, (method, token)
    assert not User.objects.filter(full_name="Mallory").exists()


@pytest.mark.parametrize("persona", PERSONAS)
def test_signed_in_persona_cannot_use_a_foreign_invitation(persona, world, rows, client):
    """A signed-in member following (or posting to) any invitation link is sent home, and the
    invitation, even Bravo's, stays pending: accepting needs signing out first."""
    viewer = viewer_for(persona, world)
    client.force_login(viewer.user)
    for token in (rows["raw"]["bravo_staff_inv"], rows["raw"]["bravo_client_inv"], secrets.token_urlsafe(32)):
        for method in ("get", "post"):
            exercise(client, viewer, rows, method, reverse("invitation_accept", args=[token]), expect=(302,))


# --- Exempt routes still get a guard -----------------------------------------------------------------

def admin_url(name, pattern, rows):
    """Fill any parameter with a Bravo id (or a real app label): the redirect must come first anyway."""
    values = {"app_label": "accounts"}
    params = pattern.pattern.regex.groupindex
    return reverse(name, kwargs={p: values.get(p, str(rows["bravo_client"].pk)) for p in params})


@pytest.mark.parametrize("persona", [*PERSONAS, "admin_with_is_staff"])
def test_admin_turns_away_everyone_but_superusers(persona, world, rows, client):
    """The admin is exempt from the sweep because it is superuser-only; this holds it to that."""
    viewer = viewer_for(persona.removesuffix("_with_is_staff"), world)
    if persona.endswith("_with_is_staff"):  # `is_staff` alone must not open the admin
        User.objects.filter(pk=viewer.user.pk).update(is_staff=True)
    client.force_login(viewer.user)
    login = reverse("admin:login")
    for name, pattern in walk_routes():
        if name.startswith("admin:") and name not in ("admin:login", "admin:logout"):
            url = admin_url(name, pattern, rows)
            response = client.get(url)
            assert response.status_code in (302, 404), f"GET {url} as {persona}: {response.status_code}"
            if response.status_code == 302:
                assert response.url.startswith(login), f"GET {url} as {persona} went to {response.url}"


def test_superuser_positive_control_for_the_admin(world, client):
    """The redirects above are the permission check, not a broken admin: a superuser gets in."""
    client.force_login(User.objects.create_superuser(email="root@portal.test", password="x-very-long-pass-1"))
    assert client.get(reverse("admin:index")).status_code == 200
    clients_page = client.get(reverse("admin:accounts_client_changelist")).content.decode()
    assert "Alpha Recovery Client 1" in clients_page and "Bravo Collections Client 1" in clients_page


def _reversible(name):
    try:
        return reverse(name)
    except NoReverseMatch:  # needs a one-time key: not reachable by browsing
        return None


@pytest.mark.parametrize("persona", ["admin", "client1_admin"])
@pytest.mark.parametrize("route", [name for name, reason in EXEMPT.items() if reason == _ALLAUTH])
def test_exempt_allauth_pages_show_no_foreign_data(route, persona, world, rows, client):
    """Cheap guard on the exemption's reason: these pages render for a member without a 500,
    naming no foreign rows and changing nothing outside the member's scope."""
    viewer = viewer_for(persona, world)
    client.force_login(viewer.user)
    url = _reversible(route)
    if url is not None:
        exercise(client, viewer, rows, "get", url, expect=range(200, 500))


@pytest.mark.parametrize("persona", PERSONAS)
def test_agreement_downloads_are_scoped(persona, world, rows, client):
    """A signed agreement opens for the account's own agency and client, never another's."""
    viewer = viewer_for(persona, world)
    client.force_login(viewer.user)
    for target in foreign_targets("evidence", viewer, rows):
        assert client.get(reverse("agreement_download", args=[target.pk])).status_code == 404
    own = client.get(reverse("agreement_download", args=[rows["alpha_client1_evidence"].pk]))
    assert own.status_code == 200 and b"".join(own.streaming_content).startswith(b"%PDF")


@pytest.mark.parametrize("persona", PERSONAS)
def test_statement_files_are_scoped(persona, world, rows, client):
    """A statement's PDF and CSV open for its own agency and client only."""
    viewer = viewer_for(persona, world)
    client.force_login(viewer.user)
    for target in foreign_targets("statement", viewer, rows):
        for kind in ("pdf", "csv"):
            assert client.get(reverse("statement_file", args=[target.pk, kind])).status_code == 404
    own = client.get(reverse("statement_file", args=[rows["alpha_client1_statement"].pk, "pdf"]))
    if viewer.role == Role.COLLECTOR:  # collectors work accounts, not the books
        assert own.status_code == 404
    else:
        assert own.status_code == 200 and b"".join(own.streaming_content) == b"%PDF alpha_client1 statement"


@pytest.mark.parametrize("persona", PERSONAS)
def test_print_batch_files_are_scoped(persona, world, rows, client):
    """A print batch's PDF opens for its own agency's staff only."""
    viewer = viewer_for(persona, world)
    client.force_login(viewer.user)
    assert client.get(reverse("print_batch_file", args=[rows["bravo_print_batch"].pk])).status_code == 404
    own = client.get(reverse("print_batch_file", args=[rows["alpha_print_batch"].pk]))
    if viewer.client is not None:
        assert own.status_code == 404
    else:
        assert own.status_code == 200 and b"".join(own.streaming_content) == b"%PDF alpha print batch"


def test_stripe_webhook_of_one_agency_changes_nothing_of_another(world, rows, client):
    """Bravo's signing secret opens nothing at Alpha's endpoint, and an event that Alpha's secret
    signs but that names Bravo's account posts nothing anywhere."""
    import json

    import stripe

    viewer = viewer_for("admin", world)
    bravo_account = rows["bravo_account"]
    with unscoped():
        bravo_account.refresh_from_db()
    paid_before = bravo_account.paid
    intent = {"id": "pi_sweep_1", "object": "payment_intent", "status": "succeeded", "amount": 1000, "currency": "usd",
              "created": int(timezone.now().timestamp()), "payment_method": None,
              "metadata": {"agency": str(world.alpha.agency.pk), "account": str(bravo_account.pk), "link": "0"}}
    body = json.dumps({"id": "evt_sweep_1", "object": "event", "type": "payment_intent.succeeded",
                       "created": int(timezone.now().timestamp()), "data": {"object": intent}})
    for secret, expect in (("whsec_bravo_sweep_secret", 400), ("whsec_alpha_sweep_secret", 200)):
        before = foreign_snapshot(viewer)
        response = client.post("/stripe/webhook/alpha/", data=body, content_type="application/json",
                               HTTP_STRIPE_SIGNATURE=stripe.WebhookSignature.generate_signature_header(body, secret))
        assert response.status_code == expect, (secret, response.content)
        assert not changes_between(before, foreign_snapshot(viewer))
    assert "not posted" in response.json()["outcome"]
    with unscoped():
        assert not Payment.objects.filter(processor_reference="pi_sweep_1").exists()
        bravo_account.refresh_from_db()
        assert bravo_account.paid == paid_before
