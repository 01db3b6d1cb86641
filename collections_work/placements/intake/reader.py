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


# --- CSV ---------------------------------------------------------------------------------

def detect_encoding(path: Path) -> str:
    """utf-8-sig for a BOM, utf-8 if the whole file decodes, else Windows-1252."""
    with path.open("rb") as handle:
        if handle.read(3) == codecs.BOM_UTF8:
            return "utf-8-sig"
        handle.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                decoder.decode(chunk)
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


def inspect(path: Path, kind: str, *, sheet: str = "") -> TableInfo:
    """Find the sheets, encoding, delimiter and header row of a file. For a workbook with no
    sheet chosen, the first sheet that has a header row is taken."""
    info = TableInfo(kind=kind, headers=[], header_row=0)
    if kind == "xlsx":
        workbook = _open_workbook(path)
        info.sheet_names = list(workbook.sheetnames)
        workbook.close()
        if not sheet:
            for name in info.sheet_names[:-1]:
                try:
                    return _find_header(path, TableInfo(kind=kind, headers=[], header_row=0,
                                                        sheet_names=info.sheet_names, sheet=name))
                except IntakeError:
                    continue
        info.sheet = sheet if sheet in info.sheet_names else info.sheet_names[-1]
    else:
        info.encoding = detect_encoding(path)
        info.delimiter = detect_delimiter(path, info.encoding)
    return _find_header(path, info)


def _find_header(path: Path, info: TableInfo) -> TableInfo:
    try:
        for number, cells in enumerate(records(path, info), start=1):
            if number > HEADER_SEARCH_ROWS:
                break
            if _is_blank(cells):
                continue
            recognised = sum(1 for cell in cells if cell is not None and field_for_header(cell))
            if recognised >= 2:
                info.headers = _header_cells(cells)
                info.header_row = number
                return info
    except (UnicodeDecodeError, csv.Error) as error:
        raise IntakeError(f"The file could not be read as text: {error}.") from None
    where = f" of sheet “{info.sheet}”" if info.sheet else ""
    raise IntakeError(f"No header row found in the first {HEADER_SEARCH_ROWS} rows{where}. The file needs a row of "
                      "column names such as “Reference”, “Debtor name” and “Balance”.")


def data_rows(path: Path, info: TableInfo, progress: Progress | None = None) -> Iterator[tuple[int, list]]:
    """(row number, cells) for every non-blank row after the header."""
    for number, cells in enumerate(records(path, info, progress), start=1):
        if number <= info.header_row or _is_blank(cells):
            continue
        yield number, cells
