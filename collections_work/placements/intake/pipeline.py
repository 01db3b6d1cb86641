"""The two passes over an uploaded file: preview (validate only) and commit (validate and write).

Both stream the file once, validate every row, reject repeated references, and write a CSV of
rejected rows with their reasons. Progress goes to the cache, where the page polls it, because
the commit's own transaction is not visible until it ends.
"""
import csv
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction

from collections_work.placements.intake import reader
from collections_work.placements.intake.commit import ChunkWriter, PipelinedWriter
from collections_work.placements.intake.files import IntakeError
from collections_work.placements.intake.rows import IntakeOptions, RowError, RowValidator, duplicate_reference_error
from portal.spreadsheets import neutralise_formula

ERRORS_SAMPLE = 200


def progress_key(batch_id: int) -> str:
    return f"intake-progress:{batch_id}"


def set_progress(batch_id: int, stage: str, percent: int) -> None:
    cache.set(progress_key(batch_id), {"stage": stage, "percent": percent}, timeout=24 * 3600)


def get_progress(batch_id: int) -> dict:
    return cache.get(progress_key(batch_id)) or {"stage": "", "percent": 0}


@dataclass
class ScanResult:
    total: int = 0
    valid: int = 0
    invalid: int = 0
    errors_sample: list = field(default_factory=list)
    last_row: int = 0


class RejectedRows:
    """The downloadable CSV of rejected rows: row number, reasons, then the row as uploaded."""

    def __init__(self, path: Path, headers: list[str]):
        self.width = len(headers)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = path.open("w", encoding="utf-8-sig", newline="")
        self.writer = csv.writer(self.handle)
        self.writer.writerow(["Row", "Reasons", *headers])

    def add(self, row_no: int, errors: list[RowError], cells: list) -> None:
        reasons = "; ".join(e.message for e in errors)
        cells_text = [neutralise_formula("" if c is None else str(c)) for c in cells]
        while len(cells_text) > self.width and not cells_text[-1]:  # trailing empty columns the header dropped
            cells_text.pop()
        self.writer.writerow([row_no, neutralise_formula(reasons), *cells_text])

    def close(self):
        self.handle.close()


def table_info(batch) -> reader.TableInfo:
    options = batch.options
    return reader.TableInfo(kind=batch.file_kind, headers=batch.headers, header_row=options.get("header_row", 1),
                            sheet=batch.sheet, encoding=options.get("encoding", ""),
                            delimiter=options.get("delimiter", ","))


def scan(batch, *, on_valid, rejected_path: Path, stage: str) -> ScanResult:
    """Validate every row; valid records go to `on_valid(list_of_records)` in chunks."""
    path = Path(batch.source_file.path)
    validator = RowValidator(batch.headers, {k: int(v) for k, v in batch.mapping.items()},
                             IntakeOptions.from_dict(batch.options))
    result, seen, chunk = ScanResult(), {}, []
    chunk_size, max_rows = settings.INTAKE_CHUNK_ROWS, settings.INTAKE_MAX_ROWS
    progress = reader.Progress()
    rejected = RejectedRows(rejected_path, batch.headers)
    try:
        for row_no, cells in reader.data_rows(path, table_info(batch), progress):
            result.total += 1
            result.last_row = row_no
            if result.total > max_rows:
                raise IntakeError(f"The file has more than {max_rows:,} rows, the most one placement can take. "
                                  "Split it into smaller files.")
            record, errors = validator.validate(row_no, cells)
            if record is not None:
                first_row = seen.setdefault(record[1], row_no)
                if first_row != row_no:
                    errors = [duplicate_reference_error(row_no, record[1], first_row,
                                                        validator.column_name("client_reference"))]
                    record = None
            if record is None:
                result.invalid += 1
                rejected.add(row_no, errors, cells)
                if len(result.errors_sample) < ERRORS_SAMPLE:
                    result.errors_sample += [{"row": e.row, "column": e.column, "message": e.message} for e in errors]
                continue
            result.valid += 1
            chunk.append(record)
            if len(chunk) >= chunk_size:
                on_valid(chunk)
                chunk = []
                set_progress(batch.pk, stage, int(progress.fraction * 100))
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
        raise IntakeError("The file has a header row but no rows of accounts under it.")
    return result


def preview(batch, rejected_path: Path) -> ScanResult:
    return scan(batch, on_valid=lambda records: None, rejected_path=rejected_path, stage="checking")


def commit(batch, rejected_path: Path):
    """Validate and write every valid row in one transaction; returns (scan result, counts)."""
    update_existing = batch.on_duplicate == batch.OnDuplicate.UPDATE
    if connection.vendor == "postgresql" and settings.INTAKE_PIPELINED:
        writer = PipelinedWriter(batch, update_existing=update_existing)
        try:
            result = scan(batch, on_valid=writer.write, rejected_path=rejected_path, stage="placing")
        except BaseException:
            writer.abort()
            raise
        return result, writer.close()
    with transaction.atomic():
        writer = ChunkWriter(batch, update_existing=update_existing)
        result = scan(batch, on_valid=writer.write, rejected_path=rejected_path, stage="placing")
        return result, writer.counts
