"""The passes over an uploaded file: reading (header, sheets, first rows), checking (validate
only) and placing (validate and write).

Reading and checking parse the untrusted file in a child process under limits on time and
memory (`sandbox`); placing parses it again in the worker, which the check has shown to be
safe. Each pass streams the file once; checking and placing validate every row, reject repeated
references, and write a CSV of rejected rows with their reasons. Progress goes to the cache,
where the page polls it, because the placement's own transaction is not visible until it ends.
"""
import logging
from dataclasses import asdict
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction

from collections_work.placements.intake import kinds
from collections_work.placements.intake import reader, sandbox
from collections_work.placements.intake.commit import ChunkWriter, CommitCounts, PipelinedWriter
from collections_work.placements.intake.files import zip_limits
from collections_work.placements.intake.scan import ERRORS_SAMPLE, RejectedRows, ScanResult, scan_rows  # noqa: F401
from collections_work.placements.intake.scan import debtor_keys_path
from collections_work.models import Debtor

log = logging.getLogger(__name__)


def progress_key(batch_id: int) -> str:
    return f"intake-progress:{batch_id}"


def set_progress(batch_id: int, stage: str, percent: int) -> None:
    """Best effort: a cache that is down must not stop a placement (the batch row has its own)."""
    try:
        cache.set(progress_key(batch_id), {"stage": stage, "percent": percent}, timeout=24 * 3600)
    except Exception as error:  # noqa: BLE001 - any cache backend's connection error
        log.warning("Progress of placement %s not cached: %s", batch_id, error)


def get_progress(batch_id: int) -> dict:
    try:
        return cache.get(progress_key(batch_id)) or {"stage": "", "percent": 0}
    except Exception as error:  # noqa: BLE001
        log.warning("Progress of placement %s not read from the cache: %s", batch_id, error)
        return {"stage": "", "percent": 0}


def table_info(batch) -> reader.TableInfo:
    options = batch.options
    return reader.TableInfo(kind=batch.file_kind, headers=batch.headers, header_row=options.get("header_row", 1),
                            sheet=batch.sheet, encoding=options.get("encoding", ""),
                            delimiter=options.get("delimiter", ","))


def _in_process() -> bool:
    """Only the test suite's settings set this (see sandbox.run); it is not read from the environment."""
    return getattr(settings, "INTAKE_SANDBOX_IN_PROCESS", False)


def _source(batch) -> Path:
    return Path(batch.source_file.path)


def batch_kind(batch) -> kinds.BatchKind | None:
    """The registered kind of a batch of rows other than placements (None for placements)."""
    return None if batch.kind == kinds.PLACEMENT else kinds.get(batch.kind)


def _rows_module(batch) -> str:
    kind = batch_kind(batch)
    return kind.rows if kind else ""


def inspect(batch, *, sheet: str = "", on_progress=None) -> reader.TableInfo:
    """Read a stored upload's sheets, header row, columns and first rows in the sandbox, under
    INTAKE_READ_MAX_SECONDS and INTAKE_PARSE_MAX_MEMORY_MB. Raises IntakeError."""
    path = _source(batch)
    found = sandbox.run("inspect", {"path": str(path), "kind": batch.file_kind, "sheet": sheet,
                                    "name": batch.file_name, "limits": zip_limits(), "rows": _rows_module(batch)},
                        max_seconds=settings.INTAKE_READ_MAX_SECONDS, max_memory_mb=settings.INTAKE_PARSE_MAX_MEMORY_MB,
                        label=str(path), on_progress=on_progress, cwd=settings.BASE_DIR, in_process=_in_process())
    return reader.TableInfo(**found)


def preview(batch, rejected_path: Path, on_progress=None) -> ScanResult:
    """Check every row (nothing is written but the rejected-rows CSV) in the sandbox, under
    INTAKE_CHECK_MAX_SECONDS and INTAKE_PARSE_MAX_MEMORY_MB. Raises IntakeError."""
    path = _source(batch)
    info = asdict(table_info(batch))
    found = sandbox.run("check", {"path": str(path), "info": info, "mapping": batch.mapping, "options": batch.options,
                                  "rejected_path": str(rejected_path), "max_rows": settings.INTAKE_MAX_ROWS,
                                  "chunk_size": settings.INTAKE_CHUNK_ROWS, "rows": _rows_module(batch)},
                        max_seconds=settings.INTAKE_CHECK_MAX_SECONDS, max_memory_mb=settings.INTAKE_PARSE_MAX_MEMORY_MB,
                        label=str(path), on_progress=on_progress, cwd=settings.BASE_DIR, in_process=_in_process())
    kind = batch_kind(batch)
    if kind is None:
        return ScanResult(**found)
    # A batch kind's rows also need the database (a payment's account, its balance, a key already
    # posted): the sandbox has shown the file is safe to parse, so this pass runs here.
    lookup = kind.prepare(batch)
    result = scan(batch, on_valid=lambda records: None, rejected_path=rejected_path, stage=batch.status,
                  on_progress=on_progress, validator=_validator(batch, kind, lookup))
    result.extra = lookup.summary()
    return result


MATCH_CHUNK = 5000  # debtor keys per query when counting debtors already on file


def matched_on_file(batch, rejected_path: Path) -> dict:
    """{"matched_rows": rows whose debtor is already on file, "matched_debtors": how many such
    debtors}, from the keys the check wrote (intake.scan.DebtorKeys), a few thousand keys per
    query on the (client, debtor_key) index. A missing keys file counts nothing."""
    path = debtor_keys_path(rejected_path)
    rows = debtors = 0
    if not path.exists():
        return {}
    with path.open() as handle:
        while True:
            chunk = dict(line.rstrip("\n").split(",") for _, line in zip(range(MATCH_CHUNK), handle))
            if not chunk:
                break
            found = Debtor.objects.filter(client_id=batch.client_id, debtor_key__in=list(chunk)).values_list(
                "debtor_key", flat=True)
            for key in found:
                debtors += 1
                rows += int(chunk[key])
    path.unlink(missing_ok=True)
    return {"matched_rows": rows, "matched_debtors": debtors}


def _validator(batch, kind, lookup):
    return kinds.validator_for(kind.rows, batch.headers, {k: int(v) for k, v in batch.mapping.items()},
                               batch.options, lookup=lookup)


def scan(batch, *, on_valid, rejected_path: Path, stage: str, on_progress=None, validator=None) -> ScanResult:
    """Validate every row in this process; valid records go to `on_valid(list_of_records)` in chunks.
    Progress goes to `on_progress(percent)` (a job's heartbeat, which caches it), else to the cache."""
    report = on_progress or (lambda percent: set_progress(batch.pk, stage, percent))
    return scan_rows(_source(batch), table_info(batch), batch.mapping, batch.options, rejected_path=rejected_path,
                     max_rows=settings.INTAKE_MAX_ROWS, chunk_size=settings.INTAKE_CHUNK_ROWS, on_valid=on_valid,
                     on_progress=report, validator=validator)


def commit(batch, rejected_path: Path, *, finish=None, on_progress=None):
    """Validate and write every valid row in one transaction; returns (scan result, counts).

    `finish(result, counts)` runs inside that transaction after the last row, so what it records
    (the batch completed, its audit event) commits with the accounts or not at all; it may raise
    to roll everything back (the batch was cancelled meanwhile)."""
    kind = batch_kind(batch)
    if kind is not None:
        return _commit_kind(batch, kind, rejected_path, finish=finish, on_progress=on_progress)
    update_existing = batch.on_duplicate == batch.OnDuplicate.UPDATE
    if connection.vendor == "postgresql" and settings.INTAKE_PIPELINED:
        writer = PipelinedWriter(batch, update_existing=update_existing)
        try:
            result = scan(batch, on_valid=writer.write, rejected_path=rejected_path, stage="placing",
                          on_progress=on_progress)
        except BaseException:
            writer.abort()
            raise
        return result, writer.close(finish=(lambda counts: finish(result, counts)) if finish else None)
    with transaction.atomic():
        writer = ChunkWriter(batch, update_existing=update_existing)
        result = scan(batch, on_valid=writer.write, rejected_path=rejected_path, stage="placing",
                      on_progress=on_progress)
        writer.finish()
        if finish is not None:
            finish(result, writer.counts)
        return result, writer.counts


def _commit_kind(batch, kind, rejected_path: Path, *, finish=None, on_progress=None):
    """A batch kind's commit: every row checked again (against the database as it is now) and
    written by the kind's writer, chunk by chunk, in one transaction with `finish`."""
    with transaction.atomic():
        lookup = kind.prepare(batch)
        totals = None

        def write(records):
            nonlocal totals
            counts = kind.write(batch, records, lookup, on_progress)
            if totals is None:
                totals = counts
            else:
                totals.created += counts.created
                totals.updated += counts.updated
                totals.skipped += counts.skipped

        result = scan(batch, on_valid=write, rejected_path=rejected_path, stage="committing",
                      on_progress=on_progress, validator=_validator(batch, kind, lookup))
        result.extra = lookup.summary()
        totals = totals or CommitCounts()
        if finish is not None:
            finish(result, totals)
        return result, totals
