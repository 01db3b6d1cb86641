"""Email sending through the send log (OutboundEmail).

`email_schedule` records the message under a unique key in the caller's transaction and hands
it to the worker after commit. The worker marks it sent under a row lock, so a retry or a second
scheduler finds it sent and does nothing. A beat task re-offers anything left pending.

Secrets in links (invitation tokens, sign-in unlock links, opt-out links) must not rest in the
send log: callers pass them as `secrets`, the stored bodies hold a placeholder in their place,
the secret values wait in `secret_values` only until the message is sent (or given up), and
`portal.mail_bodies.message_bodies` puts them back into the message that leaves.
"""
import logging
from datetime import date, datetime

from django.db import IntegrityError, transaction
from django.template.loader import render_to_string

from portal.mail_bodies import secret_placeholder
from portal.models import OutboundEmail
from portal.send_gate import SendGate, SendVerdict, send_gate, send_gate_register  # noqa: F401 - the public names
from portal.tasks import deliver_email, deliver_emails
from portal.tenancy import unscoped

logger = logging.getLogger(__name__)

# How many emails one delivery task sends over one SMTP connection (scheduled runs).
DELIVERY_BATCH = 200


def send_key(kind: str, obj, period=None) -> str:
    """The exactly-once key of a scheduled message, letter, charge or statement:
    "<kind>:<object type>:<object id>[:<period>]", e.g. "installment-reminder:installment:42:2026-12-05".

    `obj` is a model instance (its model name and pk) or a (type, id) pair; `period` is a date,
    a "YYYY-MM" month, a try number or anything that makes the same event of the same object
    happen again (None: once for ever). The same key never goes out twice: the send log's
    unique key is written before the send (email_schedule), in the caller's transaction."""
    if isinstance(obj, tuple):
        object_type, object_id = obj
    else:
        object_type, object_id = obj._meta.model_name, obj.pk
    key = f"{kind}:{object_type}:{object_id}"
    if period is not None:
        key += f":{period.isoformat() if isinstance(period, (date, datetime)) else period}"
    return key


def email_schedule(*, key: str, to: str, subject: str, template: str, context: dict, agency=None,
                   client=None, secrets: dict | None = None, attachment: str = "", account=None, kind: str = "",
                   hand_off: bool = True) -> OutboundEmail:
    """Record an email in the send log and hand it to the worker after commit.

    Inputs: `key` (unique: the same key again returns the first email and sends nothing, also
    when two processes record it at once), the recipient, subject, template name
    (`emails/<template>.txt` and `.html`) and its context;
    `secrets` ({context name: value}) are context values that must not be stored with the bodies
    (link tokens): the bodies are rendered with a placeholder and the values kept apart until sent;
    `attachment` names a stored file (media storage) sent with the message; `account`: the debtor
    account a message to a debtor is about (the contact policy is asked before every try);
    `kind`: what the message is, for the outbox; `hand_off=False`: the caller queues delivery
    itself (emails_hand_off, in batches).
    Returns the OutboundEmail (pending), or the one already recorded under `key`."""
    secrets = dict(secrets or {})
    context = {**context, **{name: secret_placeholder(name) for name in secrets}}
    with unscoped():  # the key is global; look it up across tenants
        existing = OutboundEmail.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    email = OutboundEmail(
        agency=agency,
        client=client,
        idempotency_key=key,
        to=to,
        subject=subject,
        body_text=render_to_string(f"emails/{template}.txt", context),
        body_html=render_to_string(f"emails/{template}.html", context),
        attachment=attachment,
        secret_values=secrets,
        kind=kind,
        account_id=getattr(account, "pk", account),
    )
    try:
        with transaction.atomic():  # a savepoint: a twin recorded meanwhile leaves the caller's work intact
            email.save(force_insert=True)
    except IntegrityError:
        with unscoped():
            return OutboundEmail.objects.get(idempotency_key=key)
    if hand_off:
        agency_id = agency.pk if agency is not None else None
        transaction.on_commit(lambda: _hand_to_worker([email.pk], agency_id))
    return email


def emails_record(drafts: list[dict]) -> list[int]:
    """Record many emails at once (scheduled runs): each draft has email_schedule's arguments
    (key, to, subject, template, context, agency, client, secrets, account, kind). Drafts whose
    key is recorded already are skipped, also when another process records the same key at the
    same moment (the unique key decides; nothing is raised). Returns the ids of the drafts' rows
    still waiting to be sent (hand them to emails_hand_off)."""
    if not drafts:
        return []
    keys = [draft["key"] for draft in drafts]
    with unscoped():
        known = set(OutboundEmail.objects.filter(idempotency_key__in=keys).values_list("idempotency_key", flat=True))
    rows = []
    for draft in drafts:
        if draft["key"] in known:
            continue
        secrets = dict(draft.get("secrets") or {})
        context = {**draft["context"], **{name: secret_placeholder(name) for name in secrets}}
        agency = draft.get("agency")
        rows.append(OutboundEmail(
            agency=agency, client=draft.get("client"), idempotency_key=draft["key"], to=draft["to"],
            subject=draft["subject"], body_text=render_to_string(f"emails/{draft['template']}.txt", context),
            body_html=render_to_string(f"emails/{draft['template']}.html", context), secret_values=secrets,
            kind=draft.get("kind", ""), account_id=getattr(draft.get("account"), "pk", draft.get("account"))))
    OutboundEmail.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    with unscoped():
        return list(OutboundEmail.objects.filter(idempotency_key__in=[row.idempotency_key for row in rows],
                                                 status=OutboundEmail.Status.PENDING, attempts=0)
                    .values_list("pk", flat=True))


def emails_hand_off(email_ids, agency_id) -> None:
    """Queue delivery of recorded emails after commit, DELIVERY_BATCH per task (one SMTP
    connection each)."""
    ids = list(email_ids)
    if ids:
        transaction.on_commit(lambda: _hand_to_worker(ids, agency_id))


def _hand_to_worker(ids, agency_id):
    try:
        if len(ids) == 1:
            deliver_email.delay(ids[0], agency_id)
            return
        for start in range(0, len(ids), DELIVERY_BATCH):
            deliver_emails.delay(ids[start:start + DELIVERY_BATCH], agency_id)
    except Exception:  # noqa: BLE001 - the broker is unreachable; the emails are saved and pending,
        # so beat's deliver_pending_emails sends them within minutes: the user's action succeeded.
        logger.warning("Could not hand %s emails to the worker now; they stay pending", len(ids), exc_info=True)
