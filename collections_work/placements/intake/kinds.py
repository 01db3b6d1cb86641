"""Batch kinds: other sorts of rows that go through the intake machinery (upload, reading in the
sandbox, mapping with saved mappings, row errors, preview, one all-or-nothing commit with a
progress bar, the rejected-rows CSV) without collections_work importing the app that owns them.

The placement of accounts is the built-in kind ("placement"). An app above collections_work
(payments: a bank lockbox file) registers its kind in its AppConfig.ready:

    kinds.register(BatchKind(key="payments", rows="payments.batch.rows", ...))

`rows` names a module that needs no Django (the sandbox's child process imports it by name):
it holds `FIELDS` (intake.fields.Field) and `Validator(headers, mapping, options, lookup=None)`
with the RowValidator's `validate(row_no, cells)` and `column_name(field)`, plus optionally
`record_key(record)` (what must not repeat in one file; default record[1]) and
`duplicate_error(row_no, record, first_row)`. In the worker `lookup` is what `prepare(batch)`
returned (the database facts a row is checked against); in the sandbox it is None.

This module is Django-free for the same reason.
"""
import importlib
from dataclasses import dataclass, field
from typing import Callable

PLACEMENT = "placement"


@dataclass(frozen=True)
class BatchKind:
    key: str
    rows: str  # dotted module name: FIELDS, Validator (see above)
    # The worker's side, given the batch: prepare(batch) -> lookup; write(batch, records, lookup) -> counts
    # (CommitCounts-like: created, updated, skipped), run inside the commit's one transaction.
    prepare: Callable
    write: Callable
    may_use: Callable  # (user, client) -> bool: may upload, map, check and commit batches of this kind
    words: dict = field(default_factory=dict)  # wording for the shared pages (see placements.views)
    # Format options the mapping page offers, beyond amount and date formats: name -> (label, choices, default).
    options: dict = field(default_factory=dict)
    # Fields of which at least one must be mapped (besides each Field.required): e.g. reference or account id.
    one_of: tuple = ()
    templates: dict = field(default_factory=dict)  # "detail", "upload", "list" page templates
    urls: dict = field(default_factory=dict)  # "list", "upload": url names of the kind's own pages
    on_duplicate: bool = False  # whether the "already placed: skip or update" choice applies
    audit_prefix: str = ""  # audit action codes "<prefix>.uploaded", ... (labels in portal/audit.py)

    def rows_module(self):
        return importlib.import_module(self.rows)

    @property
    def fields(self) -> list:
        return self.rows_module().FIELDS


_KINDS: dict[str, BatchKind] = {}


def register(kind: BatchKind) -> None:
    _KINDS[kind.key] = kind


def get(key: str) -> BatchKind | None:
    """The registered kind, or None for placements (and for a kind whose app is not installed)."""
    return _KINDS.get(key)


def registered() -> dict[str, BatchKind]:
    return dict(_KINDS)


def audit_action(kind_key: str, verb: str) -> str:
    """The audit action code for `verb` ("uploaded", "completed"...) on a batch of `kind_key`:
    "placement.<verb>", or the kind's own prefix so the audit log says what the file was."""
    kind = _KINDS.get(kind_key) if kind_key != PLACEMENT else None
    return f"{(kind.audit_prefix or kind.key) if kind else 'placement'}.{verb}"


# --- Django-free helpers the sandbox uses --------------------------------------------------

def header_matcher(fields: list) -> Callable:
    """A `field_for_header`-like function over `fields` (intake.fields.Field): the exact name or
    a synonym, else the synonym sharing most words (at least half)."""
    from collections_work.placements.intake.fields import normalise_header

    exact, token_sets = {}, []
    for item in fields:
        for name in (item.key.replace("_", " "), item.label, *item.synonyms):
            exact.setdefault(normalise_header(name), item.key)
            token_sets.append((frozenset(normalise_header(name).split()), item.key))

    def match(header) -> str | None:
        normal = normalise_header(header)
        if normal in exact:
            return exact[normal]
        if not any(ch.isalpha() for ch in normal):
            return None
        words = frozenset(normal.split())
        best, best_score = None, 0.0
        for synonym_words, key in token_sets:
            score = len(words & synonym_words) / len(words | synonym_words)
            if score > best_score:
                best, best_score = key, score
        return best if best_score >= 0.5 else None
    return match


def guess_mapping(headers: list[str], fields: list) -> dict[str, int]:
    match = header_matcher(fields)
    mapping = {}
    for index, header in enumerate(headers):
        key = match(header)
        if key and key not in mapping:
            mapping[key] = index
    return mapping


def validator_for(rows: str | None, headers, mapping, options, lookup=None):
    """The row validator of a kind's rows module (None: the placement RowValidator)."""
    if not rows:
        from collections_work.placements.intake.rows import IntakeOptions, RowValidator

        return RowValidator(headers, mapping, IntakeOptions.from_dict(options))
    return importlib.import_module(rows).Validator(headers, mapping, options, lookup=lookup)
