"""Streaming rows out of client files: CSV in any common encoding and delimiter, or XLSX.

Nothing holds the whole file in memory. Row numbers are the spreadsheet's (the header row of
a file that starts with it is row 1), so a client can find a rejected row in their own file.
"""
import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from collections_work.placements.intake.fields import field_for_header
from collections_work.placements.intake.files import IntakeError

HEADER_SEARCH_ROWS = 20
csv.field_size_limit(1_000_000)


@dataclass
class TableInfo:
    """What a first look at a file found: its sheets, header row and columns."""

    kind: str
    headers: list[str]
    header_row: int
    sheet_names: list[str] = field(default_factory=list)
    sheet: str = ""
    encoding: str = ""
    delimiter: str = ""
    sample: list = field(default_factory=list)  # the first rows under the header, as text


# --- CSV ---------------------------------------------------------------------------------

def detect_encoding(path: Path, progress=None) -> str:
    """utf-8-sig for a BOM, utf-8 if the whole file decodes, else Windows-1252."""
    size = max(path.stat().st_size, 1)
    with path.open("rb") as handle:
        if handle.read(3) == codecs.BOM_UTF8:
            return "utf-8-sig"
        handle.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                decoder.decode(chunk)
                if progress is not None:
                    progress(handle.tell() / size)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8"


def detect_delimiter(path: Path, encoding: str) -> str:
    """The most frequent of comma, semicolon and tab in the first non-blank lines."""
    counts = {",": 0, ";": 0, "\t": 0}
    with path.open("r", encoding=encoding, errors="replace", newline="") as handle:
        seen = 0
        for line in handle:
            if not line.strip():
                continue
            for delimiter in counts:
                counts[delimiter] += line.count(delimiter)
            seen += 1
            if seen >= 5:
                break
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


class _CountingReader(io.RawIOBase):
    """A binary file that remembers how far it has been read (progress for CSV files)."""

    def __init__(self, raw):
        self.raw = raw
        self.position = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        count = self.raw.readinto(buffer)
        self.position += count or 0
        return count


def _csv_records(path: Path, encoding: str, delimiter: str, progress=None) -> Iterator[list[str]]:
    size = max(path.stat().st_size, 1)
    with path.open("rb") as raw:
        counter = _CountingReader(raw)
        text = io.TextIOWrapper(io.BufferedReader(counter, 1 << 16), encoding=encoding,
                                errors="replace" if encoding == "cp1252" else "strict", newline="")
        for cells in csv.reader(text, delimiter=delimiter):
            if progress is not None:
                progress.fraction = counter.position / size
            yield cells


# --- XLSX --------------------------------------------------------------------------------

def _open_workbook(path: Path):
    import openpyxl

    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except MemoryError:
        raise  # a limit, not a damaged file: the sandbox names it
    except Exception as error:  # openpyxl raises many kinds for damaged files
        raise IntakeError(f"The workbook could not be read ({error.__class__.__name__}). Save it again as .xlsx.") \
            from None


def _xlsx_records(path: Path, sheet: str, progress=None) -> Iterator[list]:
    workbook = _open_workbook(path)
    try:
        if sheet not in workbook.sheetnames:
            raise IntakeError(f"The workbook has no sheet named “{sheet}”.")
        worksheet = workbook[sheet]
        last_row = max(worksheet.max_row or 1, 1)
        for number, values in enumerate(worksheet.iter_rows(values_only=True), start=1):
            if progress is not None:
                progress.fraction = min(number / last_row, 1.0)
            yield list(values)
    finally:
        workbook.close()


# --- Both --------------------------------------------------------------------------------

class Progress:
    """How far through the file a reader is, from 0 to 1."""

    fraction = 0.0


def records(path: Path, info: TableInfo, progress: Progress | None = None) -> Iterator[list]:
    if info.kind == "xlsx":
        return _xlsx_records(path, info.sheet, progress)
    return _csv_records(path, info.encoding, info.delimiter, progress)


def _is_blank(cells) -> bool:
    try:
        return not "".join(cells).strip()  # CSV: all text, one C call
    except TypeError:  # XLSX: None, numbers, dates
        return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells)


def _header_cells(cells) -> list[str]:
    """Trim trailing empty columns; an empty cell inside the header (a merged cell) takes its
    left neighbour's name with a number, so every column stays addressable."""
    names = ["" if cell is None else str(cell).strip() for cell in cells]
    while names and not names[-1]:
        names.pop()
    for index, name in enumerate(names):
        if not name and index:
            base = names[index - 1].rsplit(" (", 1)[0]
            names[index] = f"{base} ({index + 1})" if base else f"Column {index + 1}"
        elif not name:
            names[index] = f"Column {index + 1}"
    return names


SAMPLE_ROWS = 10  # enough to tell a column's kind of values apart (fields.guess_mapping)
SAMPLE_CELL_CHARS = 100  # a sample cell or a header name longer than this is cut (shown, never parsed)


def inspect(path: Path, kind: str, *, sheet: str = "", limits: dict | None = None, name: str = "The file",
            progress=None) -> TableInfo:
    """Find the sheets, encoding, delimiter, header row, columns and first rows of a file, in one
    pass: a workbook is opened once and, with no sheet chosen, its sheets are searched in order
    until one has a header row. With `limits` (files.zip_limits) a workbook's parts, sheets and
    shared strings are checked first, and a header wider than limits["max_columns"] is refused.
    `progress(fraction)` is told how far it has got. Raises IntakeError."""
    report = progress or (lambda fraction: None)
    info = TableInfo(kind=kind, headers=[], header_row=0)
    if kind != "xlsx":
        info.encoding = detect_encoding(path, progress=lambda f: report(0.9 * f))
        info.delimiter = detect_delimiter(path, info.encoding)
        found = _search(records(path, info))
        if found is None:
            raise _no_header("")
        return _found(info, found, limits)
    if limits is not None:
        from collections_work.placements.intake import guard

        guard.check_workbook(path, name, limits, progress=lambda f: report(0.6 * f))
    report(0.6)
    workbook = _open_workbook(path)
    try:
        info.sheet_names = list(workbook.sheetnames)
        if any(len(sheet_name) > 100 for sheet_name in info.sheet_names):
            raise IntakeError(f"{name}: a sheet name is longer than 100 characters. Rename it and upload again.")
        if sheet and sheet not in info.sheet_names:
            raise IntakeError(f"The workbook has no sheet named “{sheet}”.")
        candidates = [sheet] if sheet else info.sheet_names
        if not candidates:
            raise IntakeError(f"{name}: the workbook has no sheets.")
        report(0.8)
        for number, candidate in enumerate(candidates, start=1):
            found = _search(_worksheet_rows(workbook[candidate]))
            report(0.8 + 0.2 * number / len(candidates))
            if found is not None:
                info.sheet = candidate
                return _found(info, found, limits)
    finally:
        workbook.close()
    if len(candidates) == 1:
        raise _no_header(candidates[0] if len(info.sheet_names) > 1 else "")
    raise IntakeError(f"No header row found in the first {HEADER_SEARCH_ROWS} rows of any of the workbook's "
                      f"{len(candidates)} sheets. The file needs a row of column names such as “Reference”, "
                      "“Debtor name” and “Balance”.")


def _worksheet_rows(worksheet) -> Iterator[list]:
    for values in worksheet.iter_rows(values_only=True):
        yield list(values)


def _search(rows: Iterator[list]):
    """(header row number, header cells, first data rows) from the first HEADER_SEARCH_ROWS rows
    (then up to SAMPLE_ROWS more non-blank rows), or None when no row there looks like a header."""
    try:
        header = None
        sample = []
        for number, cells in enumerate(rows, start=1):
            if header is None:
                if number > HEADER_SEARCH_ROWS:
                    return None
                if _is_blank(cells):
                    continue
                recognised = sum(1 for cell in cells if cell is not None and field_for_header(cell))
                if recognised >= 2:
                    header = (number, cells)
                continue
            if _is_blank(cells):
                continue
            sample.append(cells)
            if len(sample) >= SAMPLE_ROWS:
                break
    except (UnicodeDecodeError, csv.Error) as error:
        raise IntakeError(f"The file could not be read as text: {error}.") from None
    return None if header is None else (header[0], header[1], sample)


def _found(info: TableInfo, found, limits: dict | None) -> TableInfo:
    number, cells, sample = found
    headers = _header_cells(cells)
    max_columns = (limits or {}).get("max_columns")
    if max_columns and len(headers) > max_columns:
        raise IntakeError(f"The header row has {len(headers):,} columns; the limit is {max_columns:,}. "
                          "Remove the columns you do not need and upload again.")
    info.header_row = number
    info.headers = [header[:SAMPLE_CELL_CHARS] for header in headers]
    info.sample = [["" if cell is None else str(cell)[:SAMPLE_CELL_CHARS] for cell in row[:len(headers)]]
                   for row in sample]
    return info


def _no_header(sheet: str) -> IntakeError:
    where = f" of sheet “{sheet}”" if sheet else ""
    return IntakeError(f"No header row found in the first {HEADER_SEARCH_ROWS} rows{where}. The file needs a row of "
                       "column names such as “Reference”, “Debtor name” and “Balance”.")


def data_rows(path: Path, info: TableInfo, progress: Progress | None = None) -> Iterator[tuple[int, list]]:
    """(row number, cells) for every non-blank row after the header."""
    for number, cells in enumerate(records(path, info, progress), start=1):
        if number <= info.header_row or _is_blank(cells):
            continue
        yield number, cells
