"""Actions on the account page (keyword-only, one transaction, audited): the client's recall,
hold and release, notes and messages, and documents."""
from pathlib import Path

from django.db import transaction
from django.utils.text import get_valid_filename

from accounts import permissions
from collections_work.debtor_accounts import actions, events
from collections_work.debtor_accounts.actions import By
from collections_work.models import Activity, DebtorAccount, Document
from portal.audit import audit_record
from portal.errors import DomainError
from portal.files import looks_like
from portal.text import shorten_filename


def account_set_status(*, agency, actor, account, status, reason) -> DebtorAccount:
    """Recall, hold or release an account (the client admin's actions), with the reason on the
    timeline. Raises NotAllowed for anyone but the account's client admin, DomainError for an
    empty reason or a move the kernel's transition table does not allow."""
    permissions.require(permissions.can_recall_or_hold(actor, account), "Only the client's admins recall or hold.")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Give a reason; it is shown on the account's timeline.", field="reason")
    with transaction.atomic():
        account = actions.account_lock(account)
        before = actions.status_change(account, to=status, by=By.CLIENT, actor=actor, reason=reason)
        audit_record(action="account.status_changed", actor=actor, agency=agency, client=account.client,
                     obj=account, before={"status": before}, after={"status": status, "reason": reason})
    return account


def _visible_to_client_by_default(actor) -> bool:
    """What clients write, they see; agency staff's notes and files stay internal unless shared."""
    return actor.membership.is_client_role


def account_add_note(*, agency, actor, account, text, kind=Activity.Kind.NOTE, client_visible=None) -> Activity:
    """A note (or, with kind=MESSAGE, a client's message to the agency) on the account's timeline.
    Raises NotAllowed outside the role, DomainError for an empty or over-long text."""
    if kind == Activity.Kind.MESSAGE:
        permissions.require(permissions.can_message_agency(actor, account), "Only the client's users message the agency.")
    else:
        permissions.require(permissions.can_change_account(actor, account), "Read-only users cannot change accounts.")
    text = (text or "").strip()
    if not text:
        raise DomainError("Write something first.", field="text")
    if len(text) > 5000:
        raise DomainError("Keep it under 5,000 characters.", field="text")
    with transaction.atomic():
        if kind == Activity.Kind.MESSAGE:
            activity = events.message_to_agency(account, actor=actor, text=text)
        else:
            if client_visible is None:
                client_visible = _visible_to_client_by_default(actor)
            activity = events.note_added(account, actor=actor, text=text, client_visible=client_visible)
        audit_record(action=f"account.{kind}_added", actor=actor, agency=agency, client=account.client, obj=account)
    return activity


# --- Documents ---------------------------------------------------------------------------------

DOCUMENT_TYPES = {".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                  ".csv": "text/csv", ".txt": "text/plain",
                  ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                  ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
DOCUMENT_MAX_BYTES = 20 * 1000 * 1000
# How each kind of document starts; text files must hold no NUL byte and no known binary start.
DOCUMENT_SIGNATURES = {".pdf": b"%PDF", ".png": b"\x89PNG\r\n\x1a\n", ".jpg": b"\xff\xd8\xff", ".jpeg": b"\xff\xd8\xff",
                       ".xlsx": b"PK\x03\x04", ".docx": b"PK\x03\x04"}


def document_check(uploaded_file) -> None:
    """Raise DomainError(field="documents") unless the file is a kind the portal keeps, at most
    20 MB, and its content matches its name (by its first bytes)."""
    suffix = Path(uploaded_file.name).suffix.lower()
    if suffix not in DOCUMENT_TYPES:
        raise DomainError(f"{uploaded_file.name}: attach a PDF, image, CSV, text, Word or Excel file.", field="documents")
    if uploaded_file.size > DOCUMENT_MAX_BYTES:
        raise DomainError(f"{uploaded_file.name} is over 20 MB.", field="documents")
    head = uploaded_file.read(2048)
    uploaded_file.seek(0)
    if not _content_matches(suffix, head):
        raise DomainError(f"{uploaded_file.name} is not what its name says{looks_like(head)}: "
                          "attach the document itself.", field="documents")


def _content_matches(suffix: str, head: bytes) -> bool:
    if suffix in DOCUMENT_SIGNATURES:
        return head.startswith(DOCUMENT_SIGNATURES[suffix])
    return b"\x00" not in head and not looks_like(head) and not head.startswith(b"MZ")


def account_add_document(*, agency, actor, account, uploaded_file, client_visible=None) -> Document:
    """Attach a file to the account (stored under media/documents/, served only through the
    scoped download view). Raises NotAllowed outside the role, DomainError for a refused file."""
    permissions.require(permissions.can_change_account(actor, account), "Read-only users cannot change accounts.")
    document_check(uploaded_file)
    if client_visible is None:
        client_visible = _visible_to_client_by_default(actor)
    with transaction.atomic():
        document = Document(agency=agency, client=account.client, account=account, name=shorten_filename(uploaded_file.name, 200),
                            content_type=DOCUMENT_TYPES[Path(uploaded_file.name).suffix.lower()],
                            size=uploaded_file.size, uploaded_by=actor, client_visible=client_visible)
        document.file.save(get_valid_filename(uploaded_file.name), uploaded_file, save=False)
        document.save()
        events.document_added(account, actor=actor, document=document, client_visible=client_visible)
        audit_record(action="account.document_added", actor=actor, agency=agency, client=account.client, obj=document)
    return document
