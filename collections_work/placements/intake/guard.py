"""What a workbook holds, counted by streaming before a reader opens it (no Django needed).

openpyxl, even read-only, loads every shared string (each distinct text of the workbook) into
memory when it opens a file, and reads the workbook part, styles and relationships whole. So
before it opens a file the worker's child process checks, part by part and without building a
tree: the zip directory again (parts, sizes, ratio), the number of sheets the workbook part
declares, and the shared strings' bytes and count, stopping at the first limit passed. Each
refusal names the limit. XML with a document type declaration is refused: a workbook never has
one, and it is how entity-expansion bombs start.
"""
import zipfile
from pathlib import Path
from xml.parsers import expat

from collections_work.placements.intake.files import SHARED_STRINGS, IntakeError, check_workbook_archive, megabytes

CHUNK = 1 << 20


class _Stop(Exception):
    """Raised from an expat handler to stop reading at a limit."""


def check_workbook(path: Path, name: str, limits: dict, progress=None) -> None:
    """Raise IntakeError when the workbook at `path` passes one of `limits` (see
    files.zip_limits); `progress(fraction)` is told how far the shared strings have been read."""
    entries = check_workbook_archive(name, path, path.stat().st_size, limits)
    sizes = {entry.filename: entry.file_size for entry in entries}
    with zipfile.ZipFile(path) as archive:
        sheets = _count_elements(archive, "xl/workbook.xml", "sheet", limits["max_part"], name, limit=None)
        if sheets > limits["max_sheets"]:
            raise IntakeError(f"{name}: the workbook has {sheets:,} sheets; the limit is {limits['max_sheets']:,}. "
                              "Save the sheet with the accounts on its own and upload that.")
        if SHARED_STRINGS in sizes:
            total = max(sizes[SHARED_STRINGS], 1)
            count = _count_elements(
                archive, SHARED_STRINGS, "si", limits["max_shared_bytes"], name, limit=limits["max_shared_count"],
                progress=(lambda read: progress(min(read / total, 1.0))) if progress else None)
            if count > limits["max_shared_count"]:
                raise IntakeError(f"{name}: the workbook has more than {limits['max_shared_count']:,} distinct text "
                                  f"values; the limit is {limits['max_shared_count']:,}. Save it as CSV instead, or "
                                  "split it into smaller workbooks.")


def _count_elements(archive, part: str, local_name: str, max_bytes: int, name: str, *, limit: int | None,
                    progress=None) -> int:
    """How many `local_name` elements `part` holds (any namespace), reading at most `max_bytes`
    of it and stopping once the count passes `limit`."""
    count = 0
    suffix = "}" + local_name

    def start(tag, _attributes):
        nonlocal count
        if tag == local_name or tag.endswith(suffix):
            count += 1
            if limit is not None and count > limit:
                raise _Stop()

    def doctype(*_args):
        raise IntakeError(f"{name}: the part {part} declares a document type, which a workbook never does. "
                          "It was not read.")

    parser = expat.ParserCreate(namespace_separator="}")
    parser.StartElementHandler = start
    parser.StartDoctypeDeclHandler = doctype
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    read = 0
    try:
        with archive.open(part) as stream:
            while chunk := stream.read(CHUNK):
                read += len(chunk)
                if read > max_bytes:
                    raise IntakeError(f"{name}: the part {part} unpacks to more than {megabytes(max_bytes)}, "
                                      "its limit. It was not read.")
                parser.Parse(chunk, False)
                if progress is not None:
                    progress(read)
            parser.Parse(b"", True)
    except _Stop:
        return count
    except KeyError:
        raise IntakeError(f"{name} is damaged: its part {part} is missing.") from None
    except (expat.ExpatError, zipfile.BadZipFile, EOFError, OSError) as error:
        if "memory" in str(error).lower():
            raise MemoryError() from None
        raise IntakeError(f"{name} is damaged: its part {part} could not be read ({error}).") from None
    return count
