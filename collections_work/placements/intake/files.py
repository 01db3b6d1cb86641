"""Checks on an uploaded file before anything reads it: size, real type, zip bombs."""
import zipfile
from pathlib import Path

from django.conf import settings

from portal.errors import DomainError
from portal.files import looks_like

TEXT_SUFFIXES = {".csv", ".txt", ".tsv"}
XLSX_SUFFIXES = {".xlsx"}


class IntakeError(DomainError):
    """A file the portal will not read; the message says what is wrong and what to do."""


def megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def check_upload(name: str, path: Path) -> str:
    """Return 'csv' or 'xlsx' for an acceptable upload, else raise IntakeError."""
    size = path.stat().st_size
    limit = settings.INTAKE_MAX_BYTES
    if size > limit:
        raise IntakeError(f"{name} is {megabytes(size)}; the limit is {megabytes(limit)}. Split it into smaller files.")
    if size == 0:
        raise IntakeError(f"{name} is empty.")
    suffix = Path(name).suffix.lower()
    with path.open("rb") as handle:
        head = handle.read(8192)
    if suffix in XLSX_SUFFIXES:
        if not head.startswith(b"PK\x03\x04"):
            raise IntakeError(f"{name} is not an Excel workbook{looks_like(head)}. Save it as .xlsx or CSV.")
        _check_workbook_archive(name, path, size)
        return "xlsx"
    if suffix in TEXT_SUFFIXES:
        looks = looks_like(head)
        if looks or b"\x00" in head:
            raise IntakeError(f"{name} does not contain text{looks or ''}. Upload a CSV or an .xlsx workbook.")
        return "csv"
    if suffix == ".xls":
        raise IntakeError(f"{name} is an old Excel (.xls) file. Save it as .xlsx or CSV and upload that.")
    raise IntakeError(f"{name}: only CSV (.csv, .txt, .tsv) and Excel (.xlsx) files can be placed.")


def _check_workbook_archive(name, path, size):
    """Refuse archives whose unzipped size or entry count is out of proportion (zip bombs)."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            names = {entry.filename for entry in entries}
    except zipfile.BadZipFile:
        raise IntakeError(f"{name} is damaged: it is not a readable Excel workbook.") from None
    if len(entries) > settings.INTAKE_MAX_ZIP_ENTRIES:
        raise IntakeError(f"{name} holds {len(entries):,} parts; a workbook has far fewer. It was not read.")
    unzipped = sum(entry.file_size for entry in entries)
    if unzipped > settings.INTAKE_MAX_UNZIPPED_BYTES or unzipped > size * settings.INTAKE_MAX_ZIP_RATIO:
        raise IntakeError(f"{name} would unpack to {megabytes(unzipped)} from {megabytes(size)}, which is out of "
                          "proportion for a workbook (a possible zip bomb). It was not read.")
    if "xl/workbook.xml" not in names:
        raise IntakeError(f"{name} is a ZIP archive but not an Excel workbook.")
