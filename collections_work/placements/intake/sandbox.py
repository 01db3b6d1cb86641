"""Parsing untrusted files in a child process of the worker, under limits.

The worker never parses an uploaded file itself before it has been read here once: reading
(sheets, header row, first rows) and checking (every row validated, the rejected-rows CSV
written) run in `python -m collections_work.placements.intake.sandbox`, a child process that

- limits its own address space (INTAKE_PARSE_MAX_MEMORY_MB) and CPU time, and the size of the
  files it writes, with setrlimit, before it reads anything;
- is killed by the worker when its wall time passes INTAKE_READ_MAX_SECONDS (reading) or
  INTAKE_CHECK_MAX_SECONDS (checking), and dies with the worker (PR_SET_PDEATHSIG), so a killed
  worker leaves no reader behind;
- checks a workbook's parts, sheets and shared strings by streaming before openpyxl opens it
  (`guard`), and stops at the first limit passed.

It needs no Django and no database: the job (paths, limits, mapping) comes as JSON on stdin,
and it answers with JSON lines on stdout: {"progress": percent} while it works, then one of
{"result": ...}, {"refused": message} or {"limit": "memory"}. The worker (`run`) turns a refusal
or a limit into an IntakeError whose message names the limit, for the page to show.
"""
import importlib
import json
import logging
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from collections_work.placements.intake.files import IntakeError

log = logging.getLogger(__name__)
MODULE = "collections_work.placements.intake.sandbox"
MAX_ANSWER_BYTES = 16 << 20  # the child's answer: headers, sample rows, the errors sample
STEPS = {"inspect": "Reading", "check": "Checking"}


# --- In the worker ---------------------------------------------------------------------------

def run(op: str, job: dict, *, max_seconds: int, max_memory_mb: int, label: str = "", on_progress=None,
        cwd: Path | None = None, in_process: bool = False) -> dict:
    """Run `op` ("inspect" or "check") on `job` in a child process; return its result. Calls
    `on_progress(percent or None)` about every second (None: no news, a heartbeat tick).
    Raises IntakeError when the file is refused or passes the time or memory limit.

    `in_process` runs the same code in this process, without the time and memory limits (the
    other limits still apply): only the test suite's settings ask for it, to save the child's
    start-up on thousands of small test files; the tests of the limits run the child."""
    step = STEPS[op]
    report = on_progress or (lambda percent: None)
    if in_process:
        found = _OPS[op](json.loads(json.dumps(job)), lambda percent: report(int(percent)))
        return json.loads(json.dumps(found))
    payload = json.dumps({**job, "op": op, "parent_pid": os.getpid(), "max_seconds": max_seconds,
                          "max_memory_mb": max_memory_mb}).encode()
    with tempfile.TemporaryFile() as errors:
        # The label (the stored file's path) only makes the child recognisable in `ps`.
        child = subprocess.Popen([sys.executable, "-m", MODULE, label[-200:]], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=errors, cwd=cwd, close_fds=True)
        try:
            answer = _talk(child, payload, time.monotonic() + max_seconds, report)
        except _TimedOut:
            raise IntakeError(f"{step} the file took longer than the {max_seconds:,}-second limit. Save it as CSV "
                              "or split it into smaller files, then upload again.") from None
        finally:
            if child.poll() is None:
                child.kill()
            child.wait()
        errors.seek(0)
        stderr = errors.read(20_000).decode(errors="replace")
    if "result" in answer:
        return answer["result"]
    if "refused" in answer:
        raise IntakeError(str(answer["refused"]))
    if answer.get("limit") == "memory" or child.returncode == -signal.SIGKILL:
        raise IntakeError(f"{step} the file needed more than the {max_memory_mb:,} MB memory limit. Save it as CSV "
                          "or split it into smaller files, then upload again.")
    if child.returncode == -signal.SIGXCPU:
        raise IntakeError(f"{step} the file took longer than the {max_seconds:,}-second limit. Save it as CSV "
                          "or split it into smaller files, then upload again.")
    log.error("The intake reader stopped (exit %s) on %s: %s", child.returncode, label, stderr)
    raise IntakeError(f"{step} the file stopped unexpectedly; nothing was placed. Save it again as .xlsx or CSV "
                      "and upload that.")


class _TimedOut(Exception):
    pass


def _talk(child, payload: bytes, deadline: float, report) -> dict:
    child.stdin.write(payload)
    child.stdin.close()
    answer, pending = {}, b""
    with selectors.DefaultSelector() as selector:
        selector.register(child.stdout, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _TimedOut()
            if selector.select(timeout=min(1.0, remaining)):
                data = os.read(child.stdout.fileno(), 1 << 16)
                if not data:
                    return answer
                pending += data
                if len(pending) > MAX_ANSWER_BYTES:
                    raise IntakeError("The file could not be read: its reader answered too much.")
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    try:
                        message = json.loads(line)
                    except ValueError:
                        log.warning("The intake reader wrote a line that is not JSON: %r", line[:200])
                        continue
                    if "progress" in message:
                        report(int(message["progress"]))
                    else:
                        answer = message
            else:
                report(None)


# --- In the child ----------------------------------------------------------------------------

_MEMORY_ANSWER = b'{"limit": "memory"}\n'


def _emit(message: dict) -> None:
    os.write(1, json.dumps(message).encode() + b"\n")


def _limit_self(job: dict) -> None:
    import resource

    def cap(kind, soft, hard=None):
        current_soft, current_hard = resource.getrlimit(kind)
        hard = hard or soft
        if current_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, current_hard), min(hard, current_hard)
        resource.setrlimit(kind, (soft, hard))

    cap(resource.RLIMIT_AS, job["max_memory_mb"] << 20)
    cap(resource.RLIMIT_CPU, job["max_seconds"] + 5, job["max_seconds"] + 10)
    source = Path(job["path"]).stat().st_size
    cap(resource.RLIMIT_FSIZE, 5 * source + (50 << 20))  # the rejected-rows CSV


def _die_with_parent(parent_pid: int) -> None:
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the worker kills it on its own deadline
        pass
    if os.getppid() != parent_pid:  # the worker died before prctl took effect
        os._exit(1)


def _progress_reporter():
    last = [-1]

    def report(percent: int) -> None:
        if percent != last[0]:
            last[0] = percent
            _emit({"progress": percent})
    return report


def _inspect(job: dict, report) -> dict:
    from collections_work.placements.intake import kinds
    from collections_work.placements.intake import reader

    # A batch kind's rows module (Django-free) names its fields: its header cells are recognised.
    recognise = kinds.header_matcher(importlib.import_module(job["rows"]).FIELDS) if job.get("rows") else None
    info = reader.inspect(Path(job["path"]), job["kind"], sheet=job.get("sheet", ""), limits=job["limits"],
                          name=job.get("name", "The file"), progress=lambda f: report(int(f * 100)),
                          recognise=recognise)
    return {"kind": info.kind, "headers": info.headers, "header_row": info.header_row, "sheet_names": info.sheet_names,
            "sheet": info.sheet, "encoding": info.encoding, "delimiter": info.delimiter, "sample": info.sample,
            "hidden_sheets": info.hidden_sheets, "sheet_reason": info.sheet_reason, "date_system": info.date_system}


def _check(job: dict, report) -> dict:
    from collections_work.placements.intake import kinds
    from collections_work.placements.intake import reader, scan

    info = reader.TableInfo(**job["info"])
    validator = None
    if job.get("rows"):  # a batch kind: its rows checked on their own (the database checks come after, in the worker)
        validator = kinds.validator_for(job["rows"], info.headers, {k: int(v) for k, v in job["mapping"].items()},
                                        job["options"])
    keys = scan.DebtorKeys() if validator is None else None  # placements: debtors matched in the worker
    result = scan.scan_rows(Path(job["path"]), info, job["mapping"], job["options"],
                            rejected_path=Path(job["rejected_path"]), max_rows=job["max_rows"],
                            chunk_size=job["chunk_size"], on_valid=keys.add if keys else (lambda records: None),
                            on_progress=report, validator=validator)
    if keys is not None:
        keys.write(scan.debtor_keys_path(Path(job["rejected_path"])))
    return {"total": result.total, "valid": result.valid, "invalid": result.invalid,
            "errors_sample": result.errors_sample, "last_row": result.last_row, "summary": result.summary}


_OPS = {"inspect": _inspect, "check": _check}


def main() -> int:
    job = json.loads(sys.stdin.buffer.read())
    _die_with_parent(job["parent_pid"])
    _limit_self(job)
    try:
        result = _OPS[job["op"]](job, _progress_reporter())
    except MemoryError:
        os.write(1, _MEMORY_ANSWER)
        return 0
    except IntakeError as error:
        _emit({"refused": error.message})
        return 0
    _emit({"result": result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
