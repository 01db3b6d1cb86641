"""Placing files through the real services, as the upload pages do."""
import io

import openpyxl
from django.core.files.uploadedfile import SimpleUploadedFile

from collections_work.placements import services
from collections_work.models import PlacementBatch
from portal.tenancy import tenant_scope


def upload(persona, agency, name, content: bytes):
    """Upload as the page does, then let the worker read the file (its hand-off waits for the
    test's transaction, which never commits). Returns the batch, read or refused."""
    with tenant_scope(agency, persona.client):
        batch = services.placement_upload(agency=agency, actor=persona.admin, client=persona.client,
                                          uploaded_file=SimpleUploadedFile(name, content))
    return read(agency, batch)


def read(agency, batch):
    """Run the reading step of a batch the way the worker does."""
    from django.test import TestCase

    from collections_work.placements import tasks

    with TestCase.captureOnCommitCallbacks(execute=True):
        tasks.placement_inspect(batch.pk, agency.pk)
    with tenant_scope(agency):
        batch.refresh_from_db()
    return batch


def check(persona, agency, batch, capture, *, mapping=None, options=None, on_duplicate="skip"):
    with tenant_scope(agency, persona.client), capture(execute=True):
        services.placement_set_mapping(agency=agency, actor=persona.admin, batch=batch,
                                       mapping=mapping if mapping is not None else batch.mapping,
                                       options=options or {}, on_duplicate=on_duplicate)
    with tenant_scope(agency, persona.client):
        batch.refresh_from_db()
    return batch


def place(persona, agency, batch, capture):
    with tenant_scope(agency, persona.client), capture(execute=True):
        services.placement_commit(agency=agency, actor=persona.admin, batch=batch)
    with tenant_scope(agency, persona.client):
        batch.refresh_from_db()
    return batch


def place_file(persona, agency, capture, name, content, **kwargs) -> PlacementBatch:
    batch = check(persona, agency, upload(persona, agency, name, content), capture, **kwargs)
    assert batch.status == PlacementBatch.Status.PREVIEWED, batch.error_message
    return place(persona, agency, batch, capture)


def xlsx_bytes(sheets: dict[str, list[list]], merge: dict[str, list[str]] | None = None) -> bytes:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
        for cell_range in (merge or {}).get(title, []):
            sheet.merge_cells(cell_range)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
