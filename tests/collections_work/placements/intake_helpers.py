"""Placing files through the real services, as the upload pages do."""
import io

import openpyxl
from django.core.files.uploadedfile import SimpleUploadedFile

from collections_work.placements import services
from collections_work.models import PlacementBatch
from portal.tenancy import tenant_scope


def upload(persona, agency, name, content: bytes):
    with tenant_scope(agency, persona.client):
        return services.placement_upload(agency=agency, actor=persona.admin, client=persona.client,
                                         uploaded_file=SimpleUploadedFile(name, content))


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
