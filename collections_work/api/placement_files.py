"""Files through the client API: a client's system sends a CSV or .xlsx file as a placement
batch and drives it the way the upload pages do (issue 13, item 24).

    POST /api/v1/placements/                 multipart `file` -> 202, the batch (its `url`); the worker reads it
    GET  /api/v1/placements/                 the client's recent placement batches
    GET  /api/v1/placements/{id}/            status, progress, counts, the mapping, rejected rows
    POST /api/v1/placements/{id}/check/      set the mapping (or apply a saved one) and check every row -> 202
    POST /api/v1/placements/{id}/sheet/      read another sheet of the workbook -> 202
    POST /api/v1/placements/{id}/commit/     place the valid rows, all or nothing -> 202
    POST /api/v1/placements/{id}/cancel/     cancel before the accounts are placed
    GET  /api/v1/placements/{id}/rejected-rows/      every rejected row as JSON, a page at a time
    GET  /api/v1/placements/{id}/rejected-rows.csv   the same as the CSV the upload pages offer

Everything goes through the placement services with the key's client (`api_key=`), in its
scope: the same reading, mapping, saved mappings, checks, limits and all-or-nothing commit as
a file uploaded on the pages, and a batch started through the API can be finished on them.
"""
import csv
import io
from itertools import islice

from django.conf import settings
from django.http import FileResponse, Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from accounts.api import ClientApiView
from collections_work.api.serializers import FIELD_ERRORS_SCHEMA, DetailOut
from collections_work.models import ColumnMapping, DebtorAccount, DebtPurpose, PlacementBatch
from collections_work.placements import services
from collections_work.placements.intake.fields import FIELDS, FIELDS_BY_KEY
from collections_work.placements.intake.files import IntakeError
from collections_work.placements.intake.pipeline import get_progress
from collections_work.placements.intake.values import AMOUNT_FORMATS, DATE_FORMATS
from portal.errors import DomainError, NotAllowed
from portal.tenancy import get_scoped_or_404
from portal.uploads import LimitedUploadHandler, refused_upload

TAGS = ["placement files"]
# Named in the schema (SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]): other serializers have a
# `status` field too, and the debt purpose appears under two field names.
PLACEMENT_STATUSES = PlacementBatch.Status.values
ACCOUNT_STATUSES = DebtorAccount.Status.values  # keeps the name it had before: StatusEnum
DEBT_PURPOSES = DebtPurpose.values
REJECTED_PAGE_SIZE = 100
MAX_REJECTED_PAGE_SIZE = 1000
RECENT_BATCHES = 50
# What the client's system does next, by status (the batch's `next_step`).
NEXT_STEP = {
    PlacementBatch.Status.READING: "wait",
    PlacementBatch.Status.UPLOADED: "check",
    PlacementBatch.Status.VALIDATING: "wait",
    PlacementBatch.Status.PREVIEWED: "commit",
    PlacementBatch.Status.COMMITTING: "wait",
    PlacementBatch.Status.COMPLETED: "done",
    PlacementBatch.Status.FAILED: "check",
    PlacementBatch.Status.CANCELLED: "done",
}


class FileTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"


class Conflict(APIException):
    """The batch is not in a state where this step can run (being read, checked or placed, or done)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def _batch(request, pk) -> PlacementBatch:
    """The key's client's placement batch, or 404 (another client's or agency's is never found)."""
    return get_scoped_or_404(PlacementBatch, pk=pk, client=request.user.client)


def _domain_error(error: DomainError):
    """A service's refusal: 409 when the batch is busy or past this step, else the API's 400
    (NotAllowed stays itself: the API's error mapping makes it a 403)."""
    if isinstance(error, NotAllowed):
        return error
    if error.field is None and not isinstance(error, IntakeError):
        return Conflict(error.message)
    return serializers.ValidationError({error.field or "file": [error.message]})


NULLABLE_URI = {"type": "string", "format": "uri", "nullable": True}


# --- Output -----------------------------------------------------------------------------------

class PlacementProgressOut(serializers.Serializer):
    stage = serializers.CharField(help_text="The step under way: reading, validating or committing (empty when idle).")
    percent = serializers.IntegerField(help_text="0-100 of that step.")


class PlacementCountsOut(serializers.Serializer):
    rows = serializers.IntegerField(source="total_rows", help_text="Rows of accounts in the file (after checking).")
    valid = serializers.IntegerField(source="valid_rows")
    rejected = serializers.IntegerField(source="invalid_rows", help_text="Rows with errors: they are never placed.")
    created = serializers.IntegerField(source="created_count")
    updated = serializers.IntegerField(source="updated_count")
    skipped = serializers.IntegerField(source="skipped_count", help_text="Already placed, with on_duplicate=skip.")


class FileRowErrorOut(serializers.Serializer):
    row = serializers.IntegerField(help_text="The row number in the file (the header row is row 1).")
    column = serializers.CharField(help_text="The file's column (or the field) the error is about.")
    message = serializers.CharField()


class BatchOut(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    url = serializers.SerializerMethodField(help_text="Poll this URL for the batch's progress.")
    status = serializers.ChoiceField(choices=PlacementBatch.Status.values)
    status_label = serializers.CharField(source="get_status_display")
    next_step = serializers.SerializerMethodField(
        help_text="What to do next: `wait` (poll `url`), `check` (POST the mapping to `check_url`), `commit` "
                  "(POST to `commit_url`), `done` (placed or cancelled), `upload` (the file could not be read: "
                  "`message` says why; send a corrected file).")
    message = serializers.CharField(source="error_message", help_text="Why the batch failed or was refused, if so.")
    file_name = serializers.CharField()
    file_kind = serializers.CharField(help_text="csv or xlsx")
    sheet = serializers.CharField(help_text="The sheet read (workbooks).")
    sheet_names = serializers.ListField(child=serializers.CharField())
    columns = serializers.ListField(child=serializers.CharField(), source="headers",
                                    help_text="The file's column headers, in order.")
    mapping = serializers.SerializerMethodField(help_text="Placement field -> the file's column header: the mapping "
                                                          "guessed (or saved) after reading, or the one checked.")
    saved_mapping = serializers.SerializerMethodField(help_text="The saved mapping applied, if any.")
    options = serializers.SerializerMethodField(help_text="Amount and date formats and the default debt purpose.")
    on_duplicate = serializers.ChoiceField(choices=PlacementBatch.OnDuplicate.values)
    progress = serializers.SerializerMethodField()
    counts = PlacementCountsOut(source="*")
    rejected_rows = serializers.SerializerMethodField(
        help_text="The first row errors (up to 200); `rejected_rows_url` pages through all of them.")
    rejected_rows_url = serializers.SerializerMethodField(help_text="Every rejected row as JSON (null before a check).")
    rejected_rows_csv = serializers.SerializerMethodField(help_text="The rejected rows as CSV, with the reasons "
                                                                    "(null before a check).")
    check_url = serializers.SerializerMethodField()
    commit_url = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)

    def _url(self, name, batch):
        return self.context["request"].build_absolute_uri(reverse(name, args=[batch.pk]))

    def get_url(self, batch) -> str:
        return self._url("api_placement_detail", batch)

    def get_next_step(self, batch) -> str:
        if batch.status == PlacementBatch.Status.FAILED and not services.placement_may_map(batch):
            return "upload"  # the file could not be read: `message` says why
        return NEXT_STEP[batch.status]

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "string"},
                          "example": {"client_reference": "Invoice #", "debtor_name": "Customer"}})
    def get_mapping(self, batch) -> dict:
        return {field: batch.headers[index] for field, index in batch.mapping.items()
                if isinstance(index, int) and 0 <= index < len(batch.headers)}

    def get_saved_mapping(self, batch) -> str:
        return batch.options.get("saved_mapping", "")

    @extend_schema_field({"type": "object", "additionalProperties": {"oneOf": [{"type": "string"}, {"type": "boolean"}]},
                          "example": {"amount_format": "dot", "date_format": "%m/%d/%Y",
                                      "default_debt_purpose": "commercial", "currency": "USD",
                                      "parties_by_row": False}})
    def get_options(self, batch) -> dict:
        return {key: batch.options[key] for key in services.DEFAULT_OPTIONS if key in batch.options}

    @extend_schema_field(PlacementProgressOut)
    def get_progress(self, batch) -> dict:
        if not batch.is_busy:
            return {"stage": "", "percent": 100 if batch.status == PlacementBatch.Status.COMPLETED else 0}
        progress = get_progress(batch.pk)
        if progress.get("stage") != batch.status:  # the cache has an earlier step's, or nothing
            return {"stage": batch.status, "percent": batch.progress}
        return {"stage": batch.status, "percent": int(progress.get("percent", 0))}

    @extend_schema_field(FileRowErrorOut(many=True))
    def get_rejected_rows(self, batch) -> list:
        return batch.errors_sample

    @extend_schema_field(NULLABLE_URI)
    def get_rejected_rows_url(self, batch):
        return self._url("api_placement_rejected_rows", batch) if batch.rejected_file else None

    @extend_schema_field(NULLABLE_URI)
    def get_rejected_rows_csv(self, batch):
        return self._url("api_placement_rejected_rows_csv", batch) if batch.rejected_file else None

    @extend_schema_field(OpenApiTypes.URI)
    def get_check_url(self, batch) -> str:
        return self._url("api_placement_check", batch)

    @extend_schema_field(OpenApiTypes.URI)
    def get_commit_url(self, batch) -> str:
        return self._url("api_placement_commit", batch)


class BatchSummaryOut(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    url = serializers.SerializerMethodField()
    source = serializers.ChoiceField(choices=PlacementBatch.Source.values)
    status = serializers.ChoiceField(choices=PlacementBatch.Status.values)
    file_name = serializers.CharField()
    counts = PlacementCountsOut(source="*")
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)

    def get_url(self, batch) -> str:
        return self.context["request"].build_absolute_uri(reverse("api_placement_detail", args=[batch.pk]))


class BatchListOut(serializers.Serializer):
    results = BatchSummaryOut(many=True)


class RejectedRowOut(serializers.Serializer):
    row = serializers.IntegerField(help_text="The row number in the file (the header row is row 1).")
    reasons = serializers.CharField(help_text="Every reason the row was refused, separated by \"; \".")
    cells = serializers.DictField(child=serializers.CharField(), help_text="The row as sent, by column header.")


class RejectedRowsOut(serializers.Serializer):
    count = serializers.IntegerField(help_text="Rejected rows in all.")
    results = RejectedRowOut(many=True)
    next = serializers.URLField(allow_null=True)


# --- Input ------------------------------------------------------------------------------------

class UploadIn(serializers.Serializer):
    file = serializers.FileField(help_text="The export: CSV (any delimiter, UTF-8/UTF-16/Windows-1252) or Excel "
                                           ".xlsx, with a header row.", allow_empty_file=True)


@extend_schema_field({"type": "object", "additionalProperties": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                      "example": {"client_reference": "Invoice #", "debtor_name": "Customer", "principal": "Balance"}})
class MappingField(serializers.Field):
    """{placement field: the file's column header (or its 0-based position)}."""

    default_error_messages = {"not_an_object": "Send the mapping as an object {{\"field\": \"column header\"}}."}

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("not_an_object")
        return data

    def to_representation(self, value):
        return value


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "integer"}],
                      "description": "A saved mapping of your client, by name or id."})
class SavedMappingField(serializers.Field):
    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (str, int)):
            raise serializers.ValidationError("Name a saved mapping (its name, or its id).")
        return data

    def to_representation(self, value):
        return value


class OptionsIn(serializers.Serializer):
    amount_format = serializers.ChoiceField(choices=list(AMOUNT_FORMATS), required=False,
                                            help_text="; ".join(f"{k}: {v[0]}" for k, v in AMOUNT_FORMATS.items()))
    date_format = serializers.ChoiceField(choices=list(DATE_FORMATS), required=False,
                                          help_text="For dates that are not YYYY-MM-DD: "
                                                    + "; ".join(f"{k} ({v})" for k, v in DATE_FORMATS.items()))
    default_debt_purpose = serializers.ChoiceField(choices=DebtPurpose.values, required=False)
    currency = serializers.CharField(required=False, max_length=3,
                                     help_text="ISO 4217 code of every amount in the file (default: the client's)")
    parties_by_row = serializers.BooleanField(required=False,
                                              help_text="Rows with the same reference are parties of one account")

    def to_internal_value(self, data):
        if isinstance(data, dict):
            # Options the placement knows beyond these (services.DEFAULT_OPTIONS) pass as text.
            extra = {k: v for k, v in data.items() if k in services.DEFAULT_OPTIONS and k not in self.fields}
            unknown = [k for k in data if k not in services.DEFAULT_OPTIONS and k not in self.fields]
            if unknown:
                raise serializers.ValidationError({str(k)[:100]: ["Unknown option."] for k in unknown[:20]})
            bad = [k for k, v in extra.items() if not isinstance(v, str)]
            if bad:
                raise serializers.ValidationError({k: ["Send this option as text."] for k in bad})
            return {**super().to_internal_value({k: v for k, v in data.items() if k in self.fields}), **extra}
        return super().to_internal_value(data)


class CheckIn(serializers.Serializer):
    mapping = MappingField(required=False, help_text="Placement field -> your column header. Leave it out to "
                                                     "check with the mapping the batch shows (guessed, or a saved "
                                                     "mapping whose columns all match).")
    saved_mapping = SavedMappingField(required=False, help_text="Apply a saved mapping (by name or id) instead "
                                                                "of `mapping`.")
    options = OptionsIn(required=False)
    on_duplicate = serializers.ChoiceField(choices=PlacementBatch.OnDuplicate.values, required=False,
                                           help_text="skip (default) or update accounts already placed.")
    save_as = serializers.CharField(required=False, allow_blank=True, max_length=100,
                                    help_text="Save this mapping under this name for your next files.")

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as error:  # {"options": {"date_format": [...]}} -> "options.date_format"
            raise serializers.ValidationError(_flat(error.detail)) from None

    def validate(self, attrs):
        if "mapping" in attrs and "saved_mapping" in attrs:
            raise serializers.ValidationError({"saved_mapping": ["Send `mapping` or `saved_mapping`, not both."]})
        return attrs


def _flat(detail, prefix="") -> dict:
    """Nested field errors as {"a.b": [messages]}, the API's one error shape."""
    if not isinstance(detail, dict):
        return {prefix or "non_field_errors": [str(m) for m in (detail if isinstance(detail, list) else [detail])]}
    flat = {}
    for key, value in detail.items():
        flat |= _flat(value, f"{prefix}.{key}" if prefix else str(key))
    return flat


class SheetIn(serializers.Serializer):
    sheet = serializers.CharField(max_length=100, help_text="One of the batch's `sheet_names`.")


class RejectedRowsQuery(serializers.Serializer):
    offset = serializers.IntegerField(min_value=0, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_REJECTED_PAGE_SIZE, default=REJECTED_PAGE_SIZE)


def _column_index(batch, field, column) -> int:
    """The position of `column` (a header, or a 0-based position) among the batch's headers."""
    if isinstance(column, bool) or not isinstance(column, (str, int)):
        raise serializers.ValidationError({"mapping": [f"{field}: name the column by its header (text)."]})
    if isinstance(column, int):
        if 0 <= column < len(batch.headers):
            return column
        raise serializers.ValidationError({"mapping": [f"{field}: the file has no column {column} "
                                                       f"(it has {len(batch.headers)}, counted from 0)."]})
    exact = [i for i, header in enumerate(batch.headers) if header == column]
    loose = [i for i, header in enumerate(batch.headers) if header.strip().casefold() == column.strip().casefold()]
    found = exact or loose
    if not found:
        shown = ", ".join(f"“{h}”" for h in batch.headers[:30])
        raise serializers.ValidationError({"mapping": [f"{field}: the file has no column “{column[:100]}”. "
                                                       f"Its columns: {shown}."]})
    return found[0]


def _mapping_indexes(batch, mapping: dict) -> dict:
    unknown = [str(field)[:100] for field in mapping if field not in FIELDS_BY_KEY]
    if unknown:
        raise serializers.ValidationError({"mapping": [
            f"Unknown field(s): {', '.join(unknown[:20])}. The fields: {', '.join(f.key for f in FIELDS)}."]})
    return {field: _column_index(batch, field, column) for field, column in mapping.items()
            if column not in (None, "")}


def _saved(client, name_or_id) -> ColumnMapping:
    saved = ColumnMapping.objects.filter(client=client)
    found = (saved.filter(pk=name_or_id) if isinstance(name_or_id, int) else saved.filter(name=name_or_id)).first()
    if found is None:
        names = ", ".join(f"“{m.name}”" for m in saved.order_by("name")[:30]) or "none yet"
        raise serializers.ValidationError({"saved_mapping": [
            f"Your client has no saved mapping “{str(name_or_id)[:100]}”. Saved mappings: {names}."]})
    return found


def _accepted(request, batch) -> Response:
    batch.refresh_from_db()
    response = Response(BatchOut(batch, context={"request": request}).data, status=status.HTTP_202_ACCEPTED)
    response["Location"] = request.build_absolute_uri(reverse("api_placement_detail", args=[batch.pk]))
    return response


NOT_AUTHENTICATED = OpenApiResponse(DetailOut, description="No API key, or a wrong or revoked one.")
NOT_FOUND = OpenApiResponse(DetailOut, description="No placement batch of yours has this id.")
CONFLICT = OpenApiResponse(DetailOut, description="The batch is busy (being read, checked or placed) or past "
                                                  "this step: poll it and follow its `next_step`.")
BAD_INPUT = OpenApiResponse(FIELD_ERRORS_SCHEMA, description="The input is wrong: messages by field.")
BATCH_ID = OpenApiParameter("batch_id", int, OpenApiParameter.PATH, description="The placement batch's id.")


# --- Views ------------------------------------------------------------------------------------

class PlacementFileUploadView(ClientApiView):
    """Send a file: it becomes a placement batch the worker reads."""

    parser_classes = [MultiPartParser, FormParser]
    renderer_classes = [JSONRenderer]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # the key is checked before the body is read
        if request.method == "POST":
            request._request.upload_handlers.insert(
                0, LimitedUploadHandler(request._request, max_file_bytes=settings.INTAKE_MAX_BYTES))

    @extend_schema(
        operation_id="placements_upload", tags=TAGS, summary="Send a file of accounts",
        request={"multipart/form-data": UploadIn},
        description="Upload a CSV or .xlsx export as `file` (multipart/form-data). The answer (202) is the new "
                    "placement batch with its `url` (also in `Location`): poll it. The worker reads the file "
                    "(status `reading`), then guesses the mapping of its columns (a saved mapping of yours whose "
                    "columns are all in the file wins) and waits (status `uploaded`, `next_step` `check`). "
                    f"Files up to {settings.INTAKE_MAX_BYTES // 1_000_000} MB and "
                    f"{settings.INTAKE_MAX_ROWS:,} rows.",
        responses={202: BatchOut, 400: BAD_INPUT, 401: NOT_AUTHENTICATED,
                   413: OpenApiResponse(DetailOut, description="The file is over the size limit.")},
    )
    def post(self, request):
        payload = UploadIn(data=request.data)
        refused = refused_upload(request._request)
        if refused is not None:
            raise FileTooLarge(refused.message)
        payload.is_valid(raise_exception=True)
        try:
            batch = services.placement_upload(agency=request.user.agency, actor=None, client=request.user.client,
                                              uploaded_file=payload.validated_data["file"],
                                              api_key=request.user.api_key)
        except NotAllowed:
            raise
        except DomainError as error:
            raise serializers.ValidationError({"file": [error.message]}) from None
        return _accepted(request, batch)

    @extend_schema(operation_id="placements_list", tags=TAGS, summary="Your recent placement batches",
                   description=f"The {RECENT_BATCHES} most recent placement batches of your client (files, bulk "
                               "and single API calls, the portal's pages), newest first.",
                   responses={200: BatchListOut, 401: NOT_AUTHENTICATED})
    def get(self, request):
        batches = PlacementBatch.objects.filter(client=request.user.client).order_by("-pk")[:RECENT_BATCHES]
        return Response(BatchListOut({"results": batches}, context={"request": request}).data)


class PlacementFileDetailView(ClientApiView):
    renderer_classes = [JSONRenderer]

    @extend_schema(
        operation_id="placements_retrieve", tags=TAGS, summary="A placement batch: progress, counts, rejected rows",
        parameters=[BATCH_ID],
        description="Poll this while `next_step` is `wait` (every few seconds). `progress` is the step under way; "
                    "`counts` are filled in by the check and by placing; `rejected_rows` lists the first row "
                    "errors. When `status` is `completed` the accounts are placed, scored and in the agency's "
                    "work queues.",
        responses={200: BatchOut, 401: NOT_AUTHENTICATED, 404: NOT_FOUND},
    )
    def get(self, request, batch_id):
        return Response(BatchOut(_batch(request, batch_id), context={"request": request}).data)


class PlacementFileCheckView(ClientApiView):
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]

    @extend_schema(
        operation_id="placements_check", tags=TAGS, summary="Set the mapping and check every row",
        parameters=[BATCH_ID], request=CheckIn,
        description="Maps the file's columns (`mapping`: placement field -> column header; or `saved_mapping`: a "
                    "mapping you saved, by name or id; or neither: the mapping the batch shows) and checks every "
                    "row in the worker (status `validating`, then `previewed` with the counts and the rejected "
                    "rows). Nothing is placed yet. Allowed while the batch waits for its mapping, after a check "
                    "(to check again), or after a failed check.",
        responses={202: BatchOut, 400: BAD_INPUT, 401: NOT_AUTHENTICATED, 404: NOT_FOUND, 409: CONFLICT},
        examples=[OpenApiExample("By column headers", request_only=True, value={
            "mapping": {"client_reference": "Invoice #", "debtor_name": "Customer", "principal": "Balance",
                        "due_date": "Due"},
            "options": {"date_format": "%m/%d/%Y"}, "on_duplicate": "skip", "save_as": "Billing export"}),
            OpenApiExample("A saved mapping", request_only=True, value={"saved_mapping": "Billing export"})],
    )
    def post(self, request, batch_id):
        batch = _batch(request, batch_id)
        payload = CheckIn(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        agency, key = request.user.agency, request.user.api_key
        if not services.placement_may_map(batch):
            raise Conflict(f"This placement is {batch.get_status_display().lower()}: it cannot be checked now.")
        try:
            if "saved_mapping" in data:
                batch = services.placement_apply_saved_mapping(
                    agency=agency, actor=None, batch=batch, saved=_saved(batch.client, data["saved_mapping"]),
                    api_key=key)
            mapping = _mapping_indexes(batch, data["mapping"]) if "mapping" in data else batch.mapping
            services.placement_set_mapping(
                agency=agency, actor=None, batch=batch, mapping=mapping, options=data.get("options", {}),
                on_duplicate=data.get("on_duplicate") or batch.on_duplicate, save_as=data.get("save_as", ""),
                api_key=key)
        except DomainError as error:
            raise _domain_error(error) from None
        return _accepted(request, batch)


class PlacementFileSheetView(ClientApiView):
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]

    @extend_schema(
        operation_id="placements_sheet", tags=TAGS, summary="Read another sheet of the workbook",
        parameters=[BATCH_ID], request=SheetIn,
        description="The active sheet is read first (else the first visible one). Choose another of "
                    "`sheet_names`: the batch is read again (status `reading`) and its mapping guessed anew.",
        responses={202: BatchOut, 400: BAD_INPUT, 401: NOT_AUTHENTICATED, 404: NOT_FOUND, 409: CONFLICT},
    )
    def post(self, request, batch_id):
        batch = _batch(request, batch_id)
        payload = SheetIn(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            services.placement_choose_sheet(agency=request.user.agency, actor=None, batch=batch,
                                            sheet=payload.validated_data["sheet"], api_key=request.user.api_key)
        except DomainError as error:
            raise _domain_error(error) from None
        return _accepted(request, batch)


class PlacementFileCommitView(ClientApiView):
    renderer_classes = [JSONRenderer]

    @extend_schema(
        operation_id="placements_commit", tags=TAGS, summary="Place the valid rows",
        parameters=[BATCH_ID], request=None,
        description="Places every valid row of a checked batch in one transaction in the worker (status "
                    "`committing`, then `completed`): all of them or, if anything fails, none. Rejected rows are "
                    "never placed; they stay listed on the batch.",
        responses={202: BatchOut, 401: NOT_AUTHENTICATED, 404: NOT_FOUND, 409: CONFLICT},
    )
    def post(self, request, batch_id):
        batch = _batch(request, batch_id)
        try:
            services.placement_commit(agency=request.user.agency, actor=None, batch=batch,
                                      api_key=request.user.api_key)
        except DomainError as error:
            raise (error if isinstance(error, NotAllowed) else Conflict(error.message)) from None
        return _accepted(request, batch)


class PlacementFileCancelView(ClientApiView):
    renderer_classes = [JSONRenderer]

    @extend_schema(
        operation_id="placements_cancel", tags=TAGS, summary="Cancel a placement batch",
        parameters=[BATCH_ID], request=None,
        description="Before its accounts are placed (or when placing has stopped: no sign of life from the "
                    "worker). Nothing is placed.",
        responses={200: BatchOut, 401: NOT_AUTHENTICATED, 404: NOT_FOUND, 409: CONFLICT},
    )
    def post(self, request, batch_id):
        batch = _batch(request, batch_id)
        try:
            batch = services.placement_cancel(agency=request.user.agency, actor=None, batch=batch,
                                              api_key=request.user.api_key)
        except DomainError as error:
            raise (error if isinstance(error, NotAllowed) else Conflict(error.message)) from None
        return Response(BatchOut(batch, context={"request": request}).data)


def _rejected_file(request, batch_id):
    batch = _batch(request, batch_id)
    if not batch.rejected_file:
        raise Http404("No rows have been checked yet.")
    try:
        return batch, batch.rejected_file.open("rb")
    except OSError:
        raise Http404("The rejected rows are no longer kept.") from None


class PlacementFileRejectedRowsView(ClientApiView):
    renderer_classes = [JSONRenderer]

    @extend_schema(
        operation_id="placements_rejected_rows", tags=TAGS, summary="Every rejected row, as JSON",
        parameters=[BATCH_ID, RejectedRowsQuery],
        description="The rows the check (or placing) refused, in file order, with every reason and the row as "
                    "sent; follow `next` for the following page.",
        responses={200: RejectedRowsOut, 400: BAD_INPUT, 401: NOT_AUTHENTICATED,
                   404: OpenApiResponse(DetailOut, description="No batch of yours has this id, or it is not "
                                                               "checked yet.")},
    )
    def get(self, request, batch_id):
        query = RejectedRowsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        offset, limit = query.validated_data["offset"], query.validated_data["limit"]
        batch, handle = _rejected_file(request, batch_id)
        with handle:
            rows = csv.reader(io.TextIOWrapper(handle, encoding="utf-8-sig", newline=""))
            header = next(rows, ["Row", "Reasons"])
            columns = header[2:]
            page = [{"row": int(row[0]), "reasons": row[1],
                     "cells": dict(zip(columns, row[2:]))} for row in islice(rows, offset, offset + limit)]
        count = batch.invalid_rows
        next_url = None
        if offset + limit < count:
            next_url = request.build_absolute_uri(
                reverse("api_placement_rejected_rows", args=[batch.pk]) + f"?offset={offset + limit}&limit={limit}")
        return Response(RejectedRowsOut({"count": count, "results": page, "next": next_url}).data)


class CsvRenderer(BaseRenderer):
    """Lets a client that asks for text/csv get the file (and an error's detail as text)."""

    media_type = "text/csv"
    format = "csv"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        detail = data.get("detail", "") if isinstance(data, dict) else data
        return str(detail).encode()


class PlacementFileRejectedCsvView(ClientApiView):
    renderer_classes = [JSONRenderer, CsvRenderer]

    @extend_schema(
        operation_id="placements_rejected_rows_csv", tags=TAGS, summary="The rejected rows, as CSV",
        parameters=[BATCH_ID],
        description="Row number, reasons, then the row as sent (cells that a spreadsheet would run as a formula "
                    "are neutralised).",
        responses={(200, "text/csv"): OpenApiTypes.BINARY, 401: NOT_AUTHENTICATED,
                   404: OpenApiResponse(DetailOut, description="No batch of yours has this id, or it is not "
                                                               "checked yet.")},
    )
    def get(self, request, batch_id):
        batch, handle = _rejected_file(request, batch_id)
        stem = batch.file_name.rsplit(".", 1)[0] or f"placement-{batch.pk}"
        return FileResponse(handle, as_attachment=True, filename=f"{stem}-rejected-rows.csv", content_type="text/csv")
