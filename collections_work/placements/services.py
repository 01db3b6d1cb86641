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
from collections_work.debtor_accounts import scoring
from collections_work.debtor_accounts.services import account_add_document, document_check
from collections_work.models import ColumnMapping, DebtorAccount, PlacementBatch
from collections_work.placements import tasks
from collections_work.placements.intake import fields as intake_fields
from collections_work.placements.intake import reader
from collections_work.placements.intake.commit import ChunkWriter
from collections_work.placements.intake.files import IntakeError, check_upload
from collections_work.placements.intake.rows import IntakeOptions, RowValidator, duplicate_reference_error
from collections_work.worklist import claim
from portal.audit import audit_record
from portal.errors import DomainError

DEFAULT_OPTIONS = {"amount_format": "dot", "date_format": "%m/%d/%Y", "default_debt_purpose": "unknown"}


def _check_may_place(actor, client):
    permissions.require(permissions.can_place(actor, client), "You cannot place accounts for this client.")


# --- Upload, mapping, preview, commit ------------------------------------------------------

def placement_upload(*, agency, actor, client, uploaded_file) -> PlacementBatch:
    """Store an upload, check it, find its header and guess the column mapping."""
    _check_may_place(actor, client)
    name = get_valid_filename(Path(uploaded_file.name).name) or "upload"
    stored = default_storage.save(f"intake/{agency.pk}/{client.pk}/{uuid.uuid4().hex}/{name}", uploaded_file)
    path = Path(default_storage.path(stored))
    try:
        kind = check_upload(uploaded_file.name, path)
        info = reader.inspect(path, kind)
    except IntakeError:
        default_storage.delete(stored)
        raise
    mapping, saved_options = _best_mapping(info.headers)
    with transaction.atomic():
        batch = PlacementBatch.objects.create(
            agency=agency, client=client, source=PlacementBatch.Source.UPLOAD, created_by=actor,
            file_name=uploaded_file.name[:255], file_size=path.stat().st_size, file_kind=kind,
            source_file=stored, sheet_names=info.sheet_names, sheet=info.sheet, headers=info.headers,
            mapping=mapping, options=DEFAULT_OPTIONS | saved_options | _read_options(info),
        )
        audit_record(action="placement.uploaded", actor=actor, agency=agency, client=client, obj=batch,
                     after={"file": batch.file_name, "size": batch.file_size})
    return batch


def _read_options(info: reader.TableInfo) -> dict:
    return {"encoding": info.encoding, "delimiter": info.delimiter, "header_row": info.header_row}


def _best_mapping(headers) -> tuple[dict, dict]:
    """(mapping, options): a saved mapping whose columns all appear in this file wins over a
    fresh guess, and brings its amount and date formats and its name (shown on the page)."""
    for saved in ColumnMapping.objects.all():
        mapping = intake_fields.mapping_from_names(headers, saved.mapping)
        if len(mapping) == len(saved.mapping) and set(intake_fields.REQUIRED_FIELDS) <= set(mapping):
            formats = {k: v for k, v in saved.options.items() if k in DEFAULT_OPTIONS}
            return mapping, formats | {"saved_mapping": saved.name}
    return intake_fields.guess_mapping(headers), {"saved_mapping": ""}


def placement_choose_sheet(*, agency, actor, batch, sheet) -> PlacementBatch:
    _check_may_place(actor, batch.client)
    if sheet not in batch.sheet_names:
        raise DomainError(f"The workbook has no sheet named “{sheet}”.", field="sheet")
    info = reader.inspect(Path(batch.source_file.path), batch.file_kind, sheet=sheet)
    batch.sheet, batch.headers = info.sheet, info.headers
    batch.mapping, saved_options = _best_mapping(info.headers)
    batch.options = batch.options | saved_options | _read_options(info)
    batch.save(update_fields=["sheet", "headers", "mapping", "options"])
    return batch


def placement_set_mapping(*, agency, actor, batch, mapping: dict, options: dict, on_duplicate: str,
                          save_as: str = "") -> PlacementBatch:
    """Check and store the mapping, optionally save it by name, then start the preview."""
    _check_may_place(actor, batch.client)
    if batch.status not in (PlacementBatch.Status.UPLOADED, PlacementBatch.Status.PREVIEWED):
        raise DomainError("This placement is already being placed.")
    mapping = {field: int(index) for field, index in mapping.items() if index is not None and index != ""}
    missing = [intake_fields.FIELDS_BY_KEY[f].label for f in intake_fields.REQUIRED_FIELDS if f not in mapping]
    if missing:
        raise DomainError(f"Choose the column for: {', '.join(missing)}.", field="mapping")
    used = {}
    for field, index in mapping.items():
        if not 0 <= index < len(batch.headers):
            raise DomainError(f"{intake_fields.FIELDS_BY_KEY[field].label}: no such column.", field="mapping")
        if index in used:
            raise DomainError(f"Column “{batch.headers[index]}” is chosen for both "
                              f"{intake_fields.FIELDS_BY_KEY[used[index]].label} and "
                              f"{intake_fields.FIELDS_BY_KEY[field].label}.", field="mapping")
        used[index] = field
    with transaction.atomic():
        batch = PlacementBatch.objects.select_for_update().get(pk=batch.pk)
        batch.mapping, batch.on_duplicate = mapping, on_duplicate
        batch.options = batch.options | {k: options[k] for k in DEFAULT_OPTIONS if k in options}
        batch.status, batch.progress = PlacementBatch.Status.VALIDATING, 0
        batch.save()
        if save_as.strip():
            _save_mapping(batch, save_as.strip())
        audit_record(action="placement.mapping_set", actor=actor, agency=agency, client=batch.client, obj=batch,
                     after={"mapping": {f: batch.headers[i] for f, i in mapping.items()}, "on_duplicate": on_duplicate})
        _after_commit_run(tasks.placement_preview, batch)
    return batch


def _save_mapping(batch, name):
    by_name = {field: batch.headers[index] for field, index in batch.mapping.items()}
    ColumnMapping.objects.update_or_create(
        agency=batch.agency, client=batch.client, name=name[:100],
        defaults={"headers": batch.headers, "mapping": by_name, "options": {k: batch.options[k] for k in DEFAULT_OPTIONS}},
    )


def placement_commit(*, agency, actor, batch) -> PlacementBatch:
    """Place the valid rows of a previewed upload (in the worker)."""
    _check_may_place(actor, batch.client)
    with transaction.atomic():
        batch = PlacementBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.status != PlacementBatch.Status.PREVIEWED:
            raise DomainError("Only a checked placement can be placed.")
        if batch.valid_rows == 0:
            raise DomainError("No row is valid: fix the file and upload it again.")
        batch.status, batch.progress = PlacementBatch.Status.COMMITTING, 0
        batch.save(update_fields=["status", "progress"])
        audit_record(action="placement.commit_started", actor=actor, agency=agency, client=batch.client, obj=batch)
        _after_commit_run(tasks.placement_commit, batch)
    return batch


def placement_cancel(*, agency, actor, batch) -> PlacementBatch:
    _check_may_place(actor, batch.client)
    with transaction.atomic():
        batch = PlacementBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.status not in (PlacementBatch.Status.UPLOADED, PlacementBatch.Status.PREVIEWED,
                                PlacementBatch.Status.FAILED):
            raise DomainError("This placement cannot be cancelled now.")
        batch.status = PlacementBatch.Status.CANCELLED
        batch.save(update_fields=["status"])
        audit_record(action="placement.cancelled", actor=actor, agency=agency, client=batch.client, obj=batch)
    return batch


def _after_commit_run(task, batch):
    """Hand the batch to the worker once this transaction has committed."""
    transaction.on_commit(lambda: task.delay(batch.pk, batch.agency_id))


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
                             IntakeOptions.from_dict(DEFAULT_OPTIONS | {"date_format": "%Y-%m-%d"} | (options or {})))
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
            on_duplicate=on_duplicate, total_rows=len(rows), valid_rows=len(records), mapping=given)
        writer = ChunkWriter(batch, update_existing=on_duplicate == PlacementBatch.OnDuplicate.UPDATE)
        writer.write(records)
        _finish(batch, writer.counts)
        placed = DebtorAccount.objects.filter(placement_batch=batch)
        scoring.accounts_rescore(placed)
        transaction.on_commit(lambda: claim.worklist_accounts_placed(agency.pk, placed))
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


def placement_apply_saved_mapping(*, agency, actor, batch, saved) -> PlacementBatch:
    """Map this file's columns the way a saved mapping named them (matching headers by name)."""
    _check_may_place(actor, batch.client)
    batch.mapping = intake_fields.mapping_from_names(batch.headers, saved.mapping)
    batch.options = batch.options | saved.options | {"saved_mapping": saved.name}
    batch.save(update_fields=["mapping", "options"])
    return batch


def settings_intake_limits() -> dict:
    """The upload limits the placement pages state: {"max_mb": int, "max_rows": int}."""
    return {"max_mb": settings.INTAKE_MAX_BYTES // 1_000_000, "max_rows": settings.INTAKE_MAX_ROWS}
