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
from collections_work.placements.intake.files import IntakeError, encoding_from_bom, utf16_without_bom

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
    hidden_sheets: list = field(default_factory=list)  # sheets a workbook hides (never read unless chosen)
    sheet_reason: str = ""  # why this sheet was read: "chosen", "active", "first visible", "first with a header"
    date_system: str = ""  # a workbook's dates: "1900" or "1904" (Excel serial numbers count from there)


# --- CSV ---------------------------------------------------------------------------------

def detect_encoding(path: Path, progress=None) -> str:
    """The codec a byte-order mark names (UTF-8, UTF-16 LE/BE, UTF-32), UTF-16 with no mark, utf-8
    if the whole file decodes, else Windows-1252."""
    size = max(path.stat().st_size, 1)
    with path.open("rb") as handle:
        head = handle.read(4096)
        marked = encoding_from_bom(head) or utf16_without_bom(head)
        if marked:
            return marked
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


# A run of this many empty rows ends a sheet's data. Sheets often carry formatting (or stray
# empty cells) down to row 1,048,576, and their stored size ("dimension") is often wrong, so
# neither says where the data ends; reading a million styled empty rows took a minute.
END_OF_DATA_BLANK_ROWS = 10_000


def _xlsx_records(path: Path, sheet: str, progress=None) -> Iterator[list]:
    workbook = _open_workbook(path)
    try:
        if sheet not in workbook.sheetnames:
            raise IntakeError(f"The workbook has no sheet named “{sheet}”.")
        yield from _worksheet_rows(workbook[sheet], progress)
    finally:
        workbook.close()


def _worksheet_rows(worksheet, progress=None) -> Iterator[list]:
    """Every row of a read-only worksheet from row 1, as lists of values, in the sheet's own
    numbering (a row missing from the file comes as []), until END_OF_DATA_BLANK_ROWS empty rows
    in a row. The cells are read straight from the sheet's XML: openpyxl's iter_rows trusts the
    stored dimension, which can cut rows and columns off or pad a sheet to a million rows.
    Numbers shown with a zero-padding format come as the text Excel shows ("00000042"), numbers
    with a currency format as `FormattedNumber`s that carry the currency."""
    from openpyxl.worksheet._reader import WorkSheetParser

    workbook = worksheet.parent
    formats = _cell_formats(workbook)
    try:  # progress by how much of the sheet's XML has been read (the stored row count may lie)
        size = max(workbook._archive.getinfo(worksheet._worksheet_path).file_size, 1)
    except (AttributeError, KeyError):
        size = None
    expected, blank_run = 1, 0
    with worksheet._get_source() as source:
        parser = WorkSheetParser(source, worksheet._shared_strings, data_only=True, epoch=workbook.epoch,
                                 date_formats=workbook._date_formats, timedelta_formats=workbook._timedelta_formats)
        for number, cells in parser.parse():
            while expected < number:  # rows the file leaves out
                blank_run += 1
                if blank_run >= END_OF_DATA_BLANK_ROWS:
                    return
                expected += 1
                yield []
            values = _row_values(cells, formats)
            blank_run = blank_run + 1 if _is_blank(values) else 0
            if blank_run >= END_OF_DATA_BLANK_ROWS:
                return
            expected = number + 1
            if progress is not None and size is not None:
                progress.fraction = min(source.tell() / size, 1.0)
            yield values


def _row_values(cells: list[dict], formats: dict) -> list:
    if not cells:
        return []
    width = max(cell["column"] for cell in cells)
    values = [None] * width
    for cell in cells:
        value = cell["value"]
        if value is not None and cell["data_type"] == "n" and cell["style_id"] in formats:
            value = formats[cell["style_id"]](value)
        values[cell["column"] - 1] = value
    return values


def _cell_formats(workbook) -> dict:
    """style id -> a function giving what a number in that style means as text: for the styles
    whose number format pads with zeros (identifiers: "00000" ZIPs, "00000000" references) or
    names a currency. Other styles are left out (their numbers stay numbers)."""
    from openpyxl.styles.numbers import BUILTIN_FORMATS, BUILTIN_FORMATS_MAX_SIZE

    from collections_work.placements.intake import values as intake_values

    formats = {}
    for style_id, style in enumerate(workbook._cell_styles):
        number_format_id = style.numFmtId
        if number_format_id < BUILTIN_FORMATS_MAX_SIZE:
            code = BUILTIN_FORMATS.get(number_format_id, "General")
        else:
            try:
                code = workbook._number_formats[number_format_id - BUILTIN_FORMATS_MAX_SIZE]
            except IndexError:
                continue
        shown = intake_values.number_format_reader(code)
        if shown is not None:
            formats[style_id] = shown
    return formats


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
            progress=None, recognise=None) -> TableInfo:
    """Find the sheets, encoding, delimiter, header row, columns and first rows of a file, in one
    pass: a workbook is opened once and, with no sheet chosen, its sheets are searched in order
    until one has a header row. With `limits` (files.zip_limits) a workbook's parts, sheets and
    shared strings are checked first, and a header wider than limits["max_columns"] is refused.
    `progress(fraction)` is told how far it has got. `recognise(cell)` names the field a header
    cell means (default: the placement fields'; a batch kind passes its own). Raises IntakeError."""
    report = progress or (lambda fraction: None)
    info = TableInfo(kind=kind, headers=[], header_row=0)
    if kind != "xlsx":
        info.encoding = detect_encoding(path, progress=lambda f: report(0.9 * f))
        info.delimiter = detect_delimiter(path, info.encoding)
        found = _search(records(path, info), recognise)
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
        info.date_system = "1904" if workbook.epoch.year == 1904 else "1900"
        if any(len(sheet_name) > 100 for sheet_name in info.sheet_names):
            raise IntakeError(f"{name}: a sheet name is longer than 100 characters. Rename it and upload again.")
        if sheet and sheet not in info.sheet_names:
            raise IntakeError(f"The workbook has no sheet named “{sheet}”.")
        info.hidden_sheets = [ws.title for ws in workbook.worksheets if ws.sheet_state != "visible"]
        candidates = [(sheet, "chosen")] if sheet else _default_sheets(workbook)
        if not candidates:
            raise IntakeError(f"{name}: the workbook has no sheets with rows" + (
                " (every sheet is hidden: unhide the one with the accounts and save it again)."
                if info.hidden_sheets else "."))
        report(0.8)
        for number, (candidate, reason) in enumerate(candidates, start=1):
            worksheet = workbook[candidate]
            if not hasattr(worksheet, "_get_source"):  # a chart sheet
                raise IntakeError(f"Sheet “{candidate}” is a chart, not a table of rows. Choose another sheet.")
            found = _search(_worksheet_rows(worksheet), recognise)
            report(0.8 + 0.2 * number / len(candidates))
            if found is not None:
                info.sheet, info.sheet_reason = candidate, reason if number == 1 else "first with a header"
                return _found(info, found, limits)
    finally:
        workbook.close()
    if len(candidates) == 1:
        raise _no_header(candidates[0][0] if len(info.sheet_names) > 1 else "")
    raise IntakeError(f"No header row found in the first {HEADER_SEARCH_ROWS} rows of any of the workbook's "
                      f"{len(candidates)} visible sheets. The file needs a row of column names such as “Reference”, "
                      "“Debtor name” and “Balance”.")


def _default_sheets(workbook) -> list[tuple[str, str]]:
    """(sheet, why) in the order a workbook's sheets are searched for a header when none is
    chosen: the active sheet (the one Excel opens on) if it is visible, then the other visible
    worksheets in order. Hidden sheets (old templates, lookups) and chart sheets are never read
    unless chosen. An active-sheet index past the last sheet is ignored."""
    visible = [ws.title for ws in workbook.worksheets if ws.sheet_state == "visible" and hasattr(ws, "_get_source")]
    active = workbook.active
    order = []
    if active is not None and active.title in visible:
        order.append((active.title, "active"))
    for index, title in enumerate(visible):
        if title not in (chosen for chosen, _ in order):
            order.append((title, "first visible" if not order and index == 0 else "next visible"))
    return order


def _search(rows: Iterator[list], recognise=None):
    """(header row number, header cells, first data rows) from the first HEADER_SEARCH_ROWS rows
    (then up to SAMPLE_ROWS more non-blank rows), or None when no row there looks like a header."""
    recognise = recognise or field_for_header
    try:
        header = None
        sample = []
        for number, cells in enumerate(rows, start=1):
            if header is None:
                if number > HEADER_SEARCH_ROWS:
                    return None
                if _is_blank(cells):
                    continue
                recognised = sum(1 for cell in cells if cell is not None and recognise(cell))
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
