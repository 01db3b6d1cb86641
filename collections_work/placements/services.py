"""Placing accounts (keyword-only, one transaction, audited): an upload's mapping, check and
commit (the passes themselves run in the worker, placements.tasks), the one-account form, and
`accounts_place` for the form and the API."""
import uuid
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from accounts import permissions
from collections_work.debtor_accounts.money import is_currency
from collections_work.debtor_accounts.services import account_add_document, document_check
from collections_work.models import ColumnMapping, DebtorAccount, PlacementBatch
from collections_work.placements.intake import kinds
from collections_work.placements.intake import fields as intake_fields
from collections_work.placements.intake import jobs, reader
from collections_work.placements.intake.commit import ChunkWriter
from collections_work.placements.intake.files import IntakeError, check_size, check_upload
from collections_work.placements.intake.rows import IntakeOptions, RowValidator, duplicate_reference_error
from portal.audit import audit_record
from portal.errors import DomainError

DEFAULT_OPTIONS = {"amount_format": "dot", "date_format": "%m/%d/%Y", "default_debt_purpose": "unknown",
                   "currency": "USD", "parties_by_row": False}


def _client_options(client) -> dict:
    """The options a new placement for `client` starts with: its currency, the usual formats."""
    return DEFAULT_OPTIONS | {"currency": client.currency or DEFAULT_OPTIONS["currency"]}


def _check_may_place(actor, client, kind: str = kinds.PLACEMENT, api_key=None):
    """A user who may upload files of `kind` for `client`, or (actor None) an active API key of
    that client placing accounts: the REST API authenticates the key and opens its client's scope
    before calling in. Raises PermissionDenied otherwise."""
    if actor is None and api_key is not None:
        permissions.require(kind == kinds.PLACEMENT and api_key.is_active and api_key.client_id == client.pk,
                            "This API key cannot place accounts for this client.")
        return
    batch_kind = kinds.get(kind) if kind != kinds.PLACEMENT else None
    if batch_kind is not None:
        permissions.require(batch_kind.may_use(actor, client), batch_kind.words.get(
            "not_allowed", "You cannot upload this kind of file for this client."))
        return
    permissions.require(permissions.can_place(actor, client), "You cannot place accounts for this client.")


def _kind_fields(kind: str) -> list:
    """The fields rows of `kind` carry (intake.fields.Field): the placement fields, or a kind's."""
    batch_kind = kinds.get(kind) if kind != kinds.PLACEMENT else None
    return batch_kind.fields if batch_kind else intake_fields.FIELDS


def kind_options(kind: str) -> dict:
    """The format options of `kind` with their defaults (what a saved mapping keeps)."""
    batch_kind = kinds.get(kind) if kind != kinds.PLACEMENT else None
    if batch_kind is None:
        return dict(DEFAULT_OPTIONS)
    return {"amount_format": "dot", "date_format": "%m/%d/%Y"} | {
        name: default for name, (_label, _choices, default) in batch_kind.options.items()}


def _by(actor, api_key=None) -> dict:
    """audit_record's actor arguments: the user, or the client's API key (by its prefix)."""
    if actor is None and api_key is not None:
        return {"actor": None, "actor_email": f"API key {api_key.prefix}… ({api_key.name})"[:254]}
    return {"actor": actor}


# --- Upload, reading, mapping, preview, commit ---------------------------------------------

def placement_upload(*, agency, actor, client, uploaded_file, kind: str = kinds.PLACEMENT,
                     api_key=None) -> PlacementBatch:
    """Store an upload after a bounded sniff (size, first bytes, a workbook's zip directory) and
    hand it to the worker to read (status "reading"); nothing parses the file in this request.

    `kind` is "placement" (accounts) or a registered batch kind (collections_work.placements.intake.kinds).
    Returns the batch. Raises NotAllowed, or IntakeError (nothing stored) for a file over
    INTAKE_MAX_BYTES, empty, not what its name says, or a workbook whose directory passes a limit.
    Through the REST API: actor None and the client's `api_key` (the batch's source is "api")."""
    _check_may_place(actor, client, kind, api_key)
    if kind != kinds.PLACEMENT and kinds.get(kind) is None:
        raise DomainError(f"Unknown kind of file: {kind}.")
    check_size(uploaded_file.name, uploaded_file.size)
    name = get_valid_filename(Path(uploaded_file.name).name) or "upload"
    stored = default_storage.save(f"intake/{agency.pk}/{client.pk}/{uuid.uuid4().hex}/{name}", uploaded_file)
    path = Path(default_storage.path(stored))
    try:
        file_kind = check_upload(uploaded_file.name, path)
    except IntakeError:
        default_storage.delete(stored)
        raise
    with transaction.atomic():
        batch = PlacementBatch.objects.create(
            agency=agency, client=client, created_by=actor,
            source=PlacementBatch.Source.API if api_key is not None else PlacementBatch.Source.UPLOAD,
            file_name=uploaded_file.name[:255], file_size=path.stat().st_size, file_kind=file_kind,
            source_file=stored, status=PlacementBatch.Status.READING, kind=kind,
            options=_client_options(client) if kind == kinds.PLACEMENT else kind_options(kind),
        )
        audit_record(action=kinds.audit_action(batch.kind, "uploaded"), **_by(actor, api_key), agency=agency,
                     client=client, obj=batch,
                     after={"file": batch.file_name, "size": batch.file_size})
        _hand_off(batch, PlacementBatch.Status.READING)
    return batch


def placement_read(*, batch, attempt: int, info: reader.TableInfo) -> PlacementBatch:
    """The worker has read the file (run `attempt` of the reading step): store its sheets,
    header, columns and first rows, and guess the mapping (a saved mapping of this client whose
    columns are all in the file wins, with its formats). A batch that moved on meanwhile
    (cancelled, read by a later run) is left alone."""
    mapping, saved_options = _best_mapping(batch.client, info.headers, batch.kind, info.sample)
    with transaction.atomic():
        batch = PlacementBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.status != PlacementBatch.Status.READING or batch.attempts != attempt:
            return batch
        options = {k: v for k, v in batch.options.items() if k != "read_sheet"}
        batch.sheet_names, batch.sheet, batch.headers, batch.sample_rows = (
            info.sheet_names, info.sheet, info.headers, info.sample)
        batch.mapping, batch.options = mapping, options | saved_options | _read_options(info)
        batch.status, batch.progress, batch.heartbeat_at, batch.error_message = (
            PlacementBatch.Status.UPLOADED, 100, None, "")
        batch.save()
        audit_record(action=kinds.audit_action(batch.kind, "read"), agency=batch.agency, client=batch.client, obj=batch,
                     after={"sheet": batch.sheet, "columns": len(batch.headers), "header_row": info.header_row})
    return batch


def placement_read_failed(*, batch, attempt: int, message: str) -> PlacementBatch:
    """The worker refused the file (`message` says why and names the limit). A first reading
    fails the batch and deletes the stored file; a sheet chosen afterwards that cannot be read
    leaves the batch on its earlier sheet, with the message for the mapping page."""
    with transaction.atomic():
        batch = PlacementBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.status != PlacementBatch.Status.READING or batch.attempts != attempt:
            return batch
        sheet = batch.options.get("read_sheet", "")
        batch.options = {k: v for k, v in batch.options.items() if k != "read_sheet"}
        batch.error_message, batch.heartbeat_at = message, None
        if batch.headers:
            batch.status = PlacementBatch.Status.UPLOADED
        else:
            batch.status = PlacementBatch.Status.FAILED
            stored = batch.source_file.name
            transaction.on_commit(lambda: default_storage.delete(stored), robust=True)
        batch.save()
        audit_record(action=kinds.audit_action(batch.kind, "refused"), agency=batch.agency, client=batch.client, obj=batch,
                     after={"message": message, "sheet": sheet})
    return batch


def _read_options(info: reader.TableInfo) -> dict:
    return {"encoding": info.encoding, "delimiter": info.delimiter, "header_row": info.header_row,
            "hidden_sheets": info.hidden_sheets, "sheet_reason": info.sheet_reason, "date_system": info.date_system}


def _best_mapping(client, headers, kind: str = kinds.PLACEMENT, sample=None) -> tuple[dict, dict]:
    """(mapping, options): a saved mapping of `client` (for this kind of file) whose columns all
    appear in this file wins over a fresh guess, and brings its formats and its name (shown on
    the page). A fresh guess reads the column names and the first rows (`sample`), and takes the
    amount and date formats from those rows' values (intake.fields.guess_formats)."""
    fields = _kind_fields(kind)
    required = {f.key for f in fields if f.required}
    for saved in ColumnMapping.objects.filter(client=client, kind=kind):
        mapping = intake_fields.mapping_from_names(headers, saved.mapping)
        if len(mapping) == len(saved.mapping) and required <= set(mapping):
            formats = {k: v for k, v in saved.options.items() if k in kind_options(kind)}
            return mapping, formats | {"saved_mapping": saved.name}
    if kind != kinds.PLACEMENT:
        return kinds.guess_mapping(headers, fields), {"saved_mapping": ""}
    mapping = intake_fields.guess_mapping(headers, sample)
    # A role column ("Co-borrower", "Guarantor") means one row per party.
    parties = {"parties_by_row": True} if "party_role" in mapping else {}
    return mapping, intake_fields.guess_formats(mapping, sample) | parties | {"saved_mapping": "",
                                                                             "guessed_from_values": True}


def placement_choose_sheet(*, agency, actor, batch, sheet, api_key=None) -> PlacementBatch:
    """Read another sheet of the workbook (in the worker: the batch is "reading" until it is done).
    Raises DomainError for a sheet the workbook does not have, or a batch past its mapping."""
    _check_may_place(actor, batch.client, batch.kind, api_key)
    if sheet not in batch.sheet_names:
        raise DomainError(f"The workbook has no sheet named “{sheet}”.", field="sheet")
    with transaction.atomic():
        batch = PlacementBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.status not in (PlacementBatch.Status.UPLOADED, PlacementBatch.Status.PREVIEWED):
            raise DomainError("Another sheet can be chosen only before the rows are placed.")
        batch.options = batch.options | {"read_sheet": sheet}
        batch.error_message = ""
        batch.save(update_fields=["options", "error_message"])
        audit_record(action=kinds.audit_action(batch.kind, "sheet_chosen"), **_by(actor, api_key), agency=agency,
                     client=batch.client, obj=batch,
                     after={"sheet": sheet})
        _hand_off(batch, PlacementBatch.Status.READING)
    return batch


def placement_may_map(batch) -> bool:
    """Whether the mapping page is open for `batch`: read, checked, or failed after reading
    (check again from the mapping)."""
    return batch.status in (PlacementBatch.Status.UPLOADED, PlacementBatch.Status.PREVIEWED) or (
        batch.status == PlacementBatch.Status.FAILED and bool(batch.headers)
        and batch.source in (PlacementBatch.Source.UPLOAD, PlacementBatch.Source.API))


def placement_set_mapping(*, agency, actor, batch, mapping: dict, options: dict, on_duplicate: str,
                          save_as: str = "", api_key=None) -> PlacementBatch:
    """Check and store the mapping, optionally save it by name, then start the check."""
    _check_may_place(actor, batch.client, batch.kind, api_key)
    if not placement_may_map(batch):
        raise DomainError("This placement is already being placed.")
    by_key = {f.key: f for f in _kind_fields(batch.kind)}
    mapping = {field: int(index) for field, index in mapping.items()
               if field in by_key and index is not None and index != ""}
    missing = [f.label for f in by_key.values() if f.required and f.key not in mapping]
    if "currency" in options and not is_currency(options["currency"]):
        raise DomainError(f"“{options['currency']}” is not an ISO 4217 currency code.", field="currency")
    if missing:
        raise DomainError(f"Choose the column for: {', '.join(missing)}.", field="mapping")
    batch_kind = kinds.get(batch.kind) if batch.kind != kinds.PLACEMENT else None
    if batch_kind and batch_kind.one_of and not set(batch_kind.one_of) & set(mapping):
        raise DomainError(f"Choose the column for: {' or '.join(by_key[f].label for f in batch_kind.one_of)}.",
                          field="mapping")
    used = {}
    for field, index in mapping.items():
        if not 0 <= index < len(batch.headers):
            raise DomainError(f"{by_key[field].label}: no such column.", field="mapping")
        if index in used and not _may_share(used[index], field):
            raise DomainError(f"Column “{batch.headers[index]}” is chosen for both "
                              f"{by_key[used[index]].label} and {by_key[field].label}.", field="mapping")
        used.setdefault(index, field)
    with transaction.atomic():
        batch = PlacementBatch.objects.select_for_update().get(pk=batch.pk)
        if not placement_may_map(batch):
            raise DomainError("This placement is already being placed.")
        batch.mapping, batch.on_duplicate = mapping, on_duplicate
        batch.options = batch.options | {k: options[k] for k in kind_options(batch.kind) if k in options}
        batch.error_message = ""
        batch.save()
        if save_as.strip():
            _save_mapping(batch, save_as.strip())
        audit_record(action=kinds.audit_action(batch.kind, "mapping_set"), **_by(actor, api_key), agency=agency,
                     client=batch.client, obj=batch,
                     after={"mapping": {f: batch.headers[i] for f, i in mapping.items()}, "on_duplicate": on_duplicate})
        _hand_off(batch, PlacementBatch.Status.VALIDATING)
    return batch


def _may_share(first: str, second: str) -> bool:
    """The client reference may be read from the invoice number's or the debtor ID's column."""
    pair = {first, second}
    return "client_reference" in pair and bool(pair & set(intake_fields.SHARES_REFERENCE))


def _save_mapping(batch, name):
    by_name = {field: batch.headers[index] for field, index in batch.mapping.items()}
    ColumnMapping.objects.update_or_create(
        agency=batch.agency, client=batch.client, kind=batch.kind, name=name[:100],
        defaults={"headers": batch.headers, "mapping": by_name,
                  "options": {k: batch.options[k] for k in kind_options(batch.kind) if k in batch.options}},
    )


def placement_commit(*, agency, actor, batch, api_key=None) -> PlacementBatch:
    """Place the valid rows of a previewed upload (in the worker). A batch kind's rows are
    written by its writer (payments: posted); one whose every valid row was already written
    (`options["preview"]["new"]` is 0) is refused: there is nothing new."""
    _check_may_place(actor, batch.client, batch.kind, api_key)
    with transaction.atomic():
        batch = PlacementBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.status != PlacementBatch.Status.PREVIEWED:
            raise DomainError("Only a checked placement can be placed.")
        if batch.valid_rows == 0:
            raise DomainError("No row is valid: fix the file and upload it again.")
        if batch.options.get("preview", {}).get("new") == 0:
            raise DomainError("Every valid row of this file is already posted: there is nothing new.")
        audit_record(action=kinds.audit_action(batch.kind, "commit_started"), **_by(actor, api_key), agency=agency,
                     client=batch.client, obj=batch)
        _hand_off(batch, PlacementBatch.Status.COMMITTING)
    return batch


def placement_cancel(*, agency, actor, batch, api_key=None) -> PlacementBatch:
    """Cancel a placement before its accounts are placed: waiting for its mapping or to be
    placed, failed, being read or checked (the result is then dropped), or stuck while placing
    (no heartbeat and no live run: see collections_work.placements.intake.jobs). Raises DomainError while
    its accounts are being placed, or once placed or cancelled."""
    _check_may_place(actor, batch.client, batch.kind, api_key)
    with transaction.atomic():
        batch = PlacementBatch.objects.select_for_update().get(pk=batch.pk)
        cancellable = batch.status in (PlacementBatch.Status.UPLOADED, PlacementBatch.Status.PREVIEWED,
                                       PlacementBatch.Status.FAILED, PlacementBatch.Status.READING,
                                       PlacementBatch.Status.VALIDATING)
        if batch.status == PlacementBatch.Status.COMMITTING:
            if not jobs.is_stalled(batch):
                raise DomainError("The accounts are being placed right now; this placement can be cancelled only "
                                  "if the work stops.")
            cancellable = True
        if not cancellable:
            raise DomainError("This placement cannot be cancelled now.")
        before = batch.status
        batch.status, batch.heartbeat_at = PlacementBatch.Status.CANCELLED, None
        batch.save(update_fields=["status", "heartbeat_at"])
        audit_record(action=kinds.audit_action(batch.kind, "cancelled"), **_by(actor, api_key), agency=agency,
                     client=batch.client, obj=batch,
                     before={"status": before})
    return batch


def _hand_off(batch, status):
    """Mark `batch` busy with `status` and send its worker step once this transaction commits."""
    jobs.mark_busy(batch, status)
    jobs.send_on_commit(batch, status)


# --- Single and bulk placement (form and API) --------------------------------------------

FORM_FIELDS = [f.key for f in intake_fields.FIELDS]


def accounts_place(*, agency, actor, client, rows: list[dict], source: str, on_duplicate: str = "skip",
                   options: dict | None = None):
    """Place accounts given as {field: value} dicts. All rows are valid or nothing is saved.

    Returns (batch, accounts); raises RowsInvalid with every row's errors otherwise.
    API placements pass actor=None with source="api": the client's API key, checked by the
    API view before it opens the key's client scope, is what authorises them."""
    if not (actor is None and source == PlacementBatch.Source.API):
        _check_may_place(actor, client)
    validator = RowValidator(FORM_FIELDS, {f: i for i, f in enumerate(FORM_FIELDS)},
                             IntakeOptions.from_dict(_client_options(client) | {"date_format": "%Y-%m-%d"} | (options or {})))
    records, problems, seen = [], [], {}
    for number, row in enumerate(rows, start=1):
        record, errors = validator.validate(number, [row.get(f) for f in FORM_FIELDS])
        if record is not None and seen.setdefault(record[1], number) != number:
            errors, record = [duplicate_reference_error(number, record[1], seen[record[1]])], None
        if record is None:
            problems.append({"row": number, "errors": [{"field": _field_of(e.column), "message": e.message}
                                                       for e in errors]})
        else:
            records.append(record)
    if problems:
        raise RowsInvalid(problems)
    with transaction.atomic():
        # The fields some row gave, as a file's mapping would: what none gave, an update keeps.
        given = {field: index for index, field in enumerate(FORM_FIELDS)
                 if any(row.get(field) not in (None, "") for row in rows)}
        batch = PlacementBatch.objects.create(
            agency=agency, client=client, source=source, created_by=actor, status=PlacementBatch.Status.COMMITTING,
            on_duplicate=on_duplicate, total_rows=len(rows), valid_rows=len(records), mapping=given,
            options={"currency": validator.options.currency})
        writer = ChunkWriter(batch, update_existing=on_duplicate == PlacementBatch.OnDuplicate.UPDATE)
        writer.write(records)
        writer.finish()  # scored, statistics, the worklist's zones
        _finish(batch, writer.counts)
        audit_record(action="placement.completed", actor=actor, agency=agency, client=client, obj=batch,
                     after={"source": source, "created": batch.created_count, "updated": batch.updated_count,
                            "skipped": batch.skipped_count})
    accounts = list(DebtorAccount.objects.filter(client=client, client_reference__in=[r[1] for r in records]))
    return batch, accounts


class RowsInvalid(DomainError):
    def __init__(self, problems: list[dict]):
        super().__init__(f"{len(problems)} row(s) have errors; nothing was placed.", code="rows_invalid")
        self.problems = problems


def _field_of(column: str) -> str:
    """Form and API rows use field keys as column names; labels map back to keys."""
    if column in intake_fields.FIELDS_BY_KEY:
        return column
    for field in intake_fields.FIELDS:
        if field.label == column:
            return field.key
    return column


def _finish(batch, counts):
    batch.created_count, batch.updated_count, batch.skipped_count = counts.created, counts.updated, counts.skipped
    batch.status, batch.progress, batch.completed_at = PlacementBatch.Status.COMPLETED, 100, timezone.now()
    batch.save()


def account_place_with_documents(*, agency, actor, client, row: dict, documents: list, on_duplicate="skip"):
    """The single-account form: place one account and attach its documents, all or nothing."""
    for uploaded_file in documents:
        document_check(uploaded_file)
    with transaction.atomic():
        batch, accounts = accounts_place(agency=agency, actor=actor, client=client, rows=[row], source="form",
                                         on_duplicate=on_duplicate)
        account = accounts[0]
        if batch.skipped_count:  # rolls back the batch and the documents: nothing the user typed is lost silently
            raise DomainError(f"{account.client_reference} is already placed: nothing was changed. Choose "
                              "“Update accounts already placed” to change it, or use another reference.",
                              field="client_reference")
        for uploaded_file in documents:
            account_add_document(agency=agency, actor=actor, account=account, uploaded_file=uploaded_file)
    return batch, account


def placement_apply_saved_mapping(*, agency, actor, batch, saved, api_key=None) -> PlacementBatch:
    """Map this file's columns the way a saved mapping named them (matching headers by name)."""
    _check_may_place(actor, batch.client, batch.kind, api_key)
    if saved.kind != batch.kind:
        raise DomainError("That saved mapping is for another kind of file.")
    if not placement_may_map(batch):
        raise DomainError("This placement is already being placed.")
    batch.mapping = intake_fields.mapping_from_names(batch.headers, saved.mapping)
    batch.options = batch.options | saved.options | {"saved_mapping": saved.name}
    batch.save(update_fields=["mapping", "options"])
    return batch


def settings_intake_limits() -> dict:
    """The upload limits the placement pages state: {"max_mb": int, "max_rows": int}."""
    return {"max_mb": settings.INTAKE_MAX_BYTES // 1_000_000, "max_rows": settings.INTAKE_MAX_ROWS}
