"""Checks on an uploaded file before anything reads it: size, real type, zip bombs.

This is all a web request does with an upload (a bounded sniff): the file's size, its first
bytes and, for a workbook, the zip directory (entry count first, from the end-of-archive record,
then the names and sizes it declares). Parsing (header, sheets, rows) happens in the worker,
in a child process with its own limits (`collections_work.placements.intake.sandbox`).

The sizes a zip directory declares are what Python's zipfile will inflate at most (it stops at
the declared size and then fails the CRC check), so checking them bounds what a reader unpacks.
"""
import codecs
import struct
import zipfile
from pathlib import Path

from django.conf import settings

from portal.errors import DomainError
from portal.files import looks_like

TEXT_SUFFIXES = {".csv", ".txt", ".tsv"}
XLSX_SUFFIXES = {".xlsx"}
SHARED_STRINGS = "xl/sharedStrings.xml"


class IntakeError(DomainError):
    """A file the portal will not read; the message says what is wrong and what to do."""


def megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def check_size(name: str, size: int) -> None:
    """Refuse an upload over INTAKE_MAX_BYTES (or an empty one) before it is stored."""
    limit = settings.INTAKE_MAX_BYTES
    if size > limit:
        raise IntakeError(f"{name} is {megabytes(size)}; the limit is {megabytes(limit)}. Split it into smaller files.")
    if size == 0:
        raise IntakeError(f"{name} is empty.")


def check_upload(name: str, path: Path) -> str:
    """Return 'csv' or 'xlsx' for an acceptable upload, else raise IntakeError. Reads at most
    the first 8 KB, and for a workbook its zip directory (bounded by INTAKE_MAX_ZIP_ENTRIES)."""
    size = path.stat().st_size
    check_size(name, size)
    suffix = Path(name).suffix.lower()
    with path.open("rb") as handle:
        head = handle.read(8192)
    if suffix in XLSX_SUFFIXES:
        if not head.startswith(b"PK\x03\x04"):
            raise IntakeError(f"{name} is not an Excel workbook{looks_like(head)}. Save it as .xlsx or CSV.")
        check_workbook_archive(name, path, size)
        return "xlsx"
    if suffix in TEXT_SUFFIXES:
        looks = looks_like(head)
        if not looks and _unicode_text(head):  # Excel's "Unicode Text": UTF-16 (or 32), its zero bytes are text
            return "csv"
        if looks or b"\x00" in head:
            raise IntakeError(f"{name} does not contain text{looks or ''}. Upload a CSV or an .xlsx workbook.")
        return "csv"
    if suffix == ".xls":
        raise IntakeError(f"{name} is an old Excel (.xls) file. Save it as .xlsx or CSV and upload that.")
    raise IntakeError(f"{name}: only CSV (.csv, .txt, .tsv) and Excel (.xlsx) files can be placed.")


BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def encoding_from_bom(head: bytes) -> str:
    """The codec for a file starting with a byte-order mark ("utf-16" and "utf-32" read the mark
    and drop it), else "". UTF-32 first: its little-endian mark starts with UTF-16's."""
    for bom, encoding in BOMS:
        if head.startswith(bom):
            return encoding
    return ""


def utf16_without_bom(head: bytes) -> str:
    """"utf-16-le"/"utf-16-be" for text saved as UTF-16 with no mark (every other byte of Latin
    text is zero), else ""."""
    pairs = len(head) // 2
    if pairs < 4:
        return ""
    even_zero = sum(1 for i in range(0, 2 * pairs, 2) if head[i] == 0)
    odd_zero = sum(1 for i in range(1, 2 * pairs, 2) if head[i] == 0)
    if odd_zero > 0.9 * pairs and even_zero == 0:
        return "utf-16-le"
    if even_zero > 0.9 * pairs and odd_zero == 0:
        return "utf-16-be"
    return ""


def _unicode_text(head: bytes) -> bool:
    """Whether a file's first bytes are UTF-16 or UTF-32 text (a byte-order mark, or UTF-16 with
    none), which holds zero bytes that would otherwise mark it as binary."""
    encoding = encoding_from_bom(head) or utf16_without_bom(head)
    if encoding not in ("utf-16", "utf-32", "utf-16-le", "utf-16-be"):
        return False
    try:  # the 8 KB read may end inside a character: decode what is whole
        text = codecs.getincrementaldecoder(encoding)().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return "\x00" not in text


def zip_limits() -> dict:
    """The workbook limits from settings, as the worker's child process receives them."""
    return {"max_entries": settings.INTAKE_MAX_ZIP_ENTRIES, "max_unzipped": settings.INTAKE_MAX_UNZIPPED_BYTES,
            "max_ratio": settings.INTAKE_MAX_ZIP_RATIO, "max_sheets": settings.INTAKE_MAX_SHEETS,
            "max_part": settings.INTAKE_MAX_PART_BYTES, "max_shared_bytes": settings.INTAKE_MAX_SHARED_STRINGS_BYTES,
            "max_shared_count": settings.INTAKE_MAX_SHARED_STRINGS, "max_columns": settings.INTAKE_MAX_COLUMNS}


def check_workbook_archive(name: str, path: Path, size: int, limits: dict | None = None) -> list[zipfile.ZipInfo]:
    """Refuse an archive whose directory is out of proportion for a workbook: too many parts or
    sheets, a part (or the shared strings) that would unpack past its limit, or an unzipped total
    out of proportion with the file (zip bombs). Returns the directory's entries."""
    limits = limits or zip_limits()
    declared = declared_entry_count(path, size)
    if declared is not None and declared > limits["max_entries"]:
        raise IntakeError(f"{name} holds {declared:,} parts; the limit is {limits['max_entries']:,} "
                          "(a workbook has far fewer). It was not read.")
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, struct.error):
        raise IntakeError(f"{name} is damaged: it is not a readable Excel workbook.") from None
    if len(entries) > limits["max_entries"]:
        raise IntakeError(f"{name} holds {len(entries):,} parts; the limit is {limits['max_entries']:,} "
                          "(a workbook has far fewer). It was not read.")
    unzipped = sum(entry.file_size for entry in entries)
    if unzipped > limits["max_unzipped"] or unzipped > size * limits["max_ratio"]:
        raise IntakeError(f"{name} would unpack to {megabytes(unzipped)} from {megabytes(size)}, which is out of "
                          "proportion for a workbook (a possible zip bomb). It was not read.")
    names = {entry.filename for entry in entries}
    if "xl/workbook.xml" not in names:
        raise IntakeError(f"{name} is a ZIP archive but not an Excel workbook.")
    sheets = sum(1 for entry in entries if is_worksheet(entry.filename))
    if sheets > limits["max_sheets"]:
        raise IntakeError(f"{name}: the workbook has {sheets:,} sheets; the limit is {limits['max_sheets']:,}. "
                          "Save the sheet with the accounts on its own and upload that.")
    for entry in entries:
        check_part_size(name, entry.filename, entry.file_size, limits)
    return entries


def is_worksheet(part: str) -> bool:
    return part.startswith("xl/worksheets/") and part.endswith(".xml") and part.count("/") == 2


def check_part_size(name: str, part: str, size: int, limits: dict) -> None:
    """The shared strings and every part read whole have a limit; sheets are streamed."""
    if part == SHARED_STRINGS:
        if size > limits["max_shared_bytes"]:
            raise IntakeError(f"{name}: the workbook's shared text ({part}) unpacks to {megabytes(size)}; the limit "
                              f"is {megabytes(limits['max_shared_bytes'])}. It was not read; save it as CSV instead.")
    elif not is_worksheet(part) and size > limits["max_part"]:
        raise IntakeError(f"{name}: the part {part[:100]} unpacks to {megabytes(size)}; the limit for a part is "
                          f"{megabytes(limits['max_part'])}. It was not read; save it as CSV instead.")


_EOCD = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"


def declared_entry_count(path: Path, size: int) -> int | None:
    """How many entries the end-of-archive record declares (zip64 too), read from at most the
    last 64 KB of the file, before zipfile parses the whole directory. None if not found (then
    zipfile decides whether the file is a zip at all)."""
    tail_size = min(size, 22 + 65535 + 20)
    with path.open("rb") as handle:
        handle.seek(size - tail_size)
        tail = handle.read(tail_size)
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < 22:
        return None
    (count,) = struct.unpack_from("<H", tail, at + 10)
    if count != 0xFFFF:
        return count
    locator = at - 20
    if locator < 0 or tail[locator:locator + 4] != _ZIP64_LOCATOR:
        return count
    (record_offset,) = struct.unpack_from("<Q", tail, locator + 8)
    if record_offset + 56 > size:
        return None
    with path.open("rb") as handle:
        handle.seek(record_offset)
        record = handle.read(56)
    if record[:4] != b"PK\x06\x06":
        return None
    (total,) = struct.unpack_from("<Q", record, 32)
    return total
