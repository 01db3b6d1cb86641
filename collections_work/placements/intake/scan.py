"""One pass over a file's rows: validate each, reject repeated references, write the CSV of
rejected rows, hand valid records on in chunks. No Django here, so the check can run in the
worker's child process under its limits (`sandbox`), and the commit in the worker itself.
"""
import csv
from dataclasses import dataclass, field
from pathlib import Path

from collections_work.placements.intake import reader
from collections_work.placements.intake.files import IntakeError
from collections_work.placements.intake.rows import (
    STAGE_COLUMNS, IntakeOptions, RowError, RowValidator, duplicate_reference_error)
from portal.spreadsheets import neutralise_formula

ERRORS_SAMPLE = 200
MESSAGE_CHARS = 300  # a message quoting a huge cell is cut in the sample (the rejected-rows CSV keeps it all)
TICK_ROWS = 5000  # rows between progress reports when no chunk is full yet (a file of invalid rows)


@dataclass
class ScanResult:
    total: int = 0
    valid: int = 0
    invalid: int = 0
    errors_sample: list = field(default_factory=list)
    last_row: int = 0
    extra: dict = field(default_factory=dict)  # a batch kind's own figures (payments: already posted, total)
    # {"party_rows": n, "time_zones": {"zip": n, "state": n, "phone": n, "file": n, "not_region": n,
    # "unknown": n}} for the preview; a worker step adds {"matched_rows": n, "matched_debtors": n}.
    summary: dict = field(default_factory=dict)


class RejectedRows:
    """The downloadable CSV of rejected rows: row number, reasons, then the row as uploaded."""

    def __init__(self, path: Path, headers: list[str]):
        self.width = len(headers)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = path.open("w", encoding="utf-8-sig", newline="")
        self.writer = csv.writer(self.handle)
        self.writer.writerow(["Row", "Reasons", *(neutralise_formula(h) for h in headers)])

    def add(self, row_no: int, errors: list[RowError], cells: list) -> None:
        reasons = "; ".join(e.message for e in errors)
        cells_text = [neutralise_formula("" if c is None else str(c)) for c in cells]
        while len(cells_text) > self.width and not cells_text[-1]:  # trailing empty columns the header dropped
            cells_text.pop()
        self.writer.writerow([row_no, neutralise_formula(reasons), *cells_text])

    def close(self):
        self.handle.close()


def scan_rows(path: Path, info: reader.TableInfo, mapping: dict, options: dict, *, rejected_path: Path,
              max_rows: int, chunk_size: int, on_valid, on_progress=None, validator=None) -> ScanResult:
    """Validate every row of `path` (read as `info` says, its columns mapped by `mapping`:
    field -> column index); valid records go to `on_valid(list_of_records)` in chunks of
    `chunk_size`, and `on_progress(percent)` is called after each chunk and every TICK_ROWS rows.
    A batch kind passes its own `validator` (collections_work.placements.intake.kinds); what must not
    repeat in the file is its `record_key(record)`, the client reference (record[1]) by default.
    Raises IntakeError for a file that cannot be read or has more than `max_rows` rows."""
    kind_validator = validator is not None  # a batch kind's rows have no parties and no zones
    intake_options = None if kind_validator else IntakeOptions.from_dict(options)
    if validator is None:
        validator = RowValidator(info.headers, {k: int(v) for k, v in mapping.items()}, intake_options)
    record_key = getattr(validator, "record_key", lambda record: record[1])
    repeated = getattr(validator, "duplicate_error", None)
    result, seen, chunk = ScanResult(), {}, []
    by_party, refused = not kind_validator and intake_options.parties_by_row, {}  # refused: reference -> its row
    zones = {} if not kind_validator and any(f in mapping for f in ("time_zone", "postal_code", "region", "phone")) \
        else None
    parties = 0
    progress = reader.Progress()
    rejected = RejectedRows(rejected_path, info.headers)
    report = on_progress or (lambda percent: None)
    try:
        for row_no, cells in reader.data_rows(path, info, progress):
            result.total += 1
            result.last_row = row_no
            if result.total > max_rows:
                raise IntakeError(f"The file has more than {max_rows:,} rows, the most one placement can take. "
                                  "Split it into smaller files.")
            if result.total % TICK_ROWS == 0:
                report(int(progress.fraction * 100))
            reference = validator.reference(cells) if by_party else ""
            if reference and reference in seen:
                record, errors = validator.validate_party(row_no, cells, seen[reference])
                parties += record is not None
            elif reference and reference in refused:
                record, errors = None, [RowError(row_no, validator.column_name("client_reference"),
                                                 f"the account's first row (row {refused[reference]}) has errors")]
            else:
                record, errors = validator.validate(row_no, cells)
                if record is None and reference:
                    refused[reference] = row_no
            if record is not None and not kind_validator and record[_ROLE]:
                pass  # another party of an account already seen
            elif record is not None:
                first_row = seen.setdefault(record_key(record), row_no)
                if first_row != row_no:
                    errors = [repeated(row_no, record, first_row) if repeated else duplicate_reference_error(
                        row_no, record[1], first_row, validator.column_name("client_reference"))]
                    record = None
            if record is None:
                result.invalid += 1
                rejected.add(row_no, errors, cells)
                if len(result.errors_sample) < ERRORS_SAMPLE:
                    result.errors_sample += [{"row": e.row, "column": e.column[:MESSAGE_CHARS],
                                              "message": _cut(e.message)} for e in errors]
                continue
            result.valid += 1
            if zones is not None:  # counted by source text here, by kind of source at the end
                source = (record[_ZONE] != "", record[_ZONE_SOURCE])
                zones[source] = zones.get(source, 0) + 1
            chunk.append(record)
            if len(chunk) >= chunk_size:
                on_valid(chunk)
                chunk = []
                report(int(progress.fraction * 100))
        if chunk:
            on_valid(chunk)
    except UnicodeDecodeError as error:
        raise IntakeError(f"The file is not valid {error.encoding} text near byte {error.start:,}. "
                          "Save it as UTF-8 and upload it again.") from None
    except csv.Error as error:
        raise IntakeError(f"The file could not be read as CSV: {error}.") from None
    finally:
        rejected.close()
    if result.total == 0:
        raise IntakeError("The file has a header row but no rows under it.")
    if not kind_validator:
        result.summary = {"party_rows": parties} | ({"time_zones": _zone_kinds(zones)} if zones is not None else {})
    return result


_ROLE, _ZONE, _ZONE_SOURCE = (STAGE_COLUMNS.index(c) for c in ("party_role", "time_zone", "tz_source"))


def _zone_kinds(counts: dict) -> dict:
    """{(zone found, source text): rows} -> {kind of source: rows} (intake.zones' wording)."""
    kinds: dict[str, int] = {}
    for (found, source), rows in counts.items():
        kind = "not_region" if source else "unknown"
        if found:
            kind = next((k for start, k in (("ZIP", "zip"), ("state", "state"), ("phone", "phone"),
                                            ("the phone", "phone")) if source.startswith(start)), "file")
        kinds[kind] = kinds.get(kind, 0) + rows
    return kinds


class DebtorKeys:
    """The debtor keys of a check's account rows, with how many rows each, for counting the rows
    whose debtor is already on file (a worker step compares them with the database, set-based)."""

    def __init__(self):
        self.rows: dict[str, int] = {}

    def add(self, records: list[tuple]) -> None:
        rows = self.rows
        for record in records:
            if not record[_ROLE]:
                rows[record[2]] = rows.get(record[2], 0) + 1

    def write(self, path: Path) -> None:
        with path.open("w", newline="") as handle:
            handle.writelines(f"{key},{count}\n" for key, count in self.rows.items())


def debtor_keys_path(rejected_path: Path) -> Path:
    return rejected_path.with_name("debtor-keys.csv")


def _cut(message: str) -> str:
    return message if len(message) <= MESSAGE_CHARS else message[:MESSAGE_CHARS - 1] + "…"
