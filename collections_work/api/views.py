"""The client placement API: place accounts (one or up to 1000 at once), read and list them.

Every view subclasses ClientApiView, so it runs in the API key's agency and client scope;
placing goes through `services.accounts_place` (the same rules as the form and uploads).
One view per operation; GET and POST on /api/v1/accounts/ share a URL, so `AccountsRoute`
only joins the list and place views for routing.
"""
import codecs
import json
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser, get_encoding
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from accounts.api import ClientApiView
from collections_work.api.serializers import (
    FIELD_ERRORS_SCHEMA,
    MAX_ACCOUNTS_PER_REQUEST,
    AccountBulkPlaceIn,
    AccountListOut,
    AccountListQuery,
    AccountOut,
    AccountPlacedOut,
    AccountPlaceIn,
    BulkPlaceOut,
    DetailOut,
    PlaceQuery,
    RowErrorsOut,
)
from collections_work.models import DebtorAccount, PlacementBatch
from collections_work.debtor_accounts.selectors import AccountFilters, debtor_accounts, keyset_page
from collections_work.placements.services import RowsInvalid, accounts_place
from portal.tenancy import get_scoped_or_404

TAGS = ["debtor accounts"]


class DecimalJSONParser(JSONParser):
    """JSON with numbers that have a fraction read as Decimal, never float (money stays exact).

    Like DRF's parser it refuses NaN/Infinity; it also turns absurd nesting into a 400."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = get_encoding(parser_context or {})
        try:
            return json.load(codecs.getreader(encoding)(stream), parse_float=Decimal, parse_constant=_no_constant)
        except ValueError as error:
            raise ParseError(f"JSON parse error - {error}") from None
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None


def _no_constant(name):
    raise ValueError(f"{name} is not a JSON number")


class BodyTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"


def _json_body(request):
    """The parsed body; a body over DATA_UPLOAD_MAX_MEMORY_SIZE is a JSON 413, not Django's HTML 400."""
    try:
        return request.data
    except RequestDataTooBig:
        raise BodyTooLarge(f"The request body is over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 1_000_000} MB; "
                           f"send at most {MAX_ACCOUNTS_PER_REQUEST} accounts per request.") from None


class RowsRejected(APIException):
    """400 listing every bad row of a placement ({"detail", "errors": [{"row", "errors"}]}).

    Its detail is set as is (APIException would turn the row numbers into strings); DRF's
    handler, behind portal.api.exception_handler, renders it."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "rows_invalid"

    def __init__(self, problems: list[dict]):
        self.detail = {"detail": f"{len(problems)} row(s) have errors; nothing was placed.", "errors": problems}


def _place(request, rows: list, type_problems: list[dict], on_duplicate: str):
    """Place `rows` for the key's client, or raise RowsRejected with every bad row.

    Rows whose JSON types were already refused (None in `rows`) go to the service as `{}`: a
    row without its required fields is always invalid, so the service still checks every
    other row and saves nothing; their type errors then replace its "missing" errors."""
    try:
        placed = accounts_place(
            agency=request.user.agency, actor=None, client=request.user.client,
            rows=[row if row is not None else {} for row in rows],
            source=PlacementBatch.Source.API, on_duplicate=on_duplicate)
    except RowsInvalid as error:
        refused = {problem["row"] for problem in type_problems}
        problems = [p for p in error.problems if p["row"] not in refused] + type_problems
        raise RowsRejected(sorted(problems, key=lambda problem: problem["row"])) from None
    return placed


def _field_errors(problems: list[dict]) -> dict:
    """One row's errors as {field: [messages]}, the way DRF reports a bad object."""
    errors = {}
    for problem in problems:
        for error in problem["errors"]:
            errors.setdefault(error["field"], []).append(error["message"])
    return errors


FIELD_ERRORS = OpenApiResponse(FIELD_ERRORS_SCHEMA, description="The input is wrong: messages by field.")
NOT_AUTHENTICATED = OpenApiResponse(DetailOut, description="No API key, or a wrong or revoked one.")
TOO_LARGE = OpenApiResponse(DetailOut, description=f"The request body is over "
                                                    f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 1_000_000} MB.")
SINGLE_EXAMPLE = {"client_reference": "INV-1001", "debtor_name": "Acme Supplies LLC", "principal": "1250.00",
                  "due_date": "2024-03-31", "email": "ap@acme.example", "debt_purpose": "commercial"}


class AccountPlaceView(ClientApiView):
    """Place one account."""

    parser_classes = [DecimalJSONParser]
    renderer_classes = [JSONRenderer]

    @extend_schema(
        operation_id="accounts_place", tags=TAGS, request=AccountPlaceIn, parameters=[PlaceQuery],
        summary="Place one account",
        description="Places one account with the placement fields. `on_duplicate` may be given in the body or "
                    "the query string (the body wins). If the client reference is already placed and "
                    "`on_duplicate` is `skip` (the default), nothing changes and the existing account is "
                    "returned with `\"result\": \"skipped\"` and status 200.",
        responses={
            201: OpenApiResponse(AccountPlacedOut, description="Placed: `result` is `created`."),
            200: OpenApiResponse(AccountPlacedOut, description="The reference was already placed: `result` is "
                                                               "`skipped` (unchanged) or `updated`."),
            400: FIELD_ERRORS,
            401: NOT_AUTHENTICATED,
            413: TOO_LARGE,
        },
        examples=[
            OpenApiExample("A commercial account", value=SINGLE_EXAMPLE, request_only=True),
            OpenApiExample("Field errors", value={"principal": ["principal 'abc' is not an amount"]},
                           response_only=True, status_codes=["400"]),
        ],
    )
    def post(self, request):
        query = PlaceQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        payload = AccountPlaceIn(data=_json_body(request))
        payload.is_valid(raise_exception=True)
        row = dict(payload.validated_data)
        on_duplicate = row.pop("on_duplicate", None) or query.validated_data.get("on_duplicate") or "skip"
        try:
            batch, accounts = _place(request, [row], [], on_duplicate)
        except RowsRejected as error:
            raise serializers.ValidationError(_field_errors(error.detail["errors"])) from None
        result = "created" if batch.created_count else "updated" if batch.updated_count else "skipped"
        account = accounts[0]
        account.result = result
        return Response(AccountPlacedOut(account).data,
                        status=status.HTTP_201_CREATED if result == "created" else status.HTTP_200_OK)


class AccountBulkPlaceView(ClientApiView):
    """Place up to 1000 accounts: all of them, or none."""

    parser_classes = [DecimalJSONParser]
    renderer_classes = [JSONRenderer]

    @extend_schema(
        operation_id="accounts_place_bulk", tags=TAGS, request=AccountBulkPlaceIn, summary="Place accounts in bulk",
        description="Places 1 to 1000 accounts as one placement batch. All or nothing: if any account has "
                    "errors, the answer is 400 listing every bad row (1 = the first account) with its field "
                    "errors, and nothing is saved.",
        responses={
            201: BulkPlaceOut,
            400: OpenApiResponse(RowErrorsOut, description="Bad rows (nothing saved); or, for a malformed "
                                                           "request, messages by field as in the single call."),
            401: NOT_AUTHENTICATED,
            413: TOO_LARGE,
        },
        examples=[
            OpenApiExample("Two accounts", request_only=True, value={"on_duplicate": "skip", "accounts": [
                SINGLE_EXAMPLE, {"client_reference": "INV-1002", "debtor_name": "Jane Doe", "principal": 310.5,
                                 "debt_purpose": "consumer"}]}),
            OpenApiExample("Bad rows", response_only=True, status_codes=["400"], value={
                "detail": "1 row(s) have errors; nothing was placed.",
                "errors": [{"row": 2, "errors": [
                    {"field": "principal", "message": "principal 'abc' is not an amount"}]}]}),
        ],
    )
    def post(self, request):
        payload = AccountBulkPlaceIn(data=_json_body(request))
        payload.is_valid(raise_exception=True)
        checked = payload.validated_data["accounts"]
        batch, _accounts = _place(request, checked.rows, checked.problems, payload.validated_data["on_duplicate"])
        return Response(BulkPlaceOut(batch).data, status=status.HTTP_201_CREATED)


class AccountListView(ClientApiView):
    """The key's client's accounts, filtered, one keyset page at a time."""

    renderer_classes = [JSONRenderer]

    @extend_schema(
        operation_id="accounts_list", tags=TAGS, parameters=[AccountListQuery], summary="List accounts",
        description="Pages follow a cursor: fetch `next` until it is null. Pages stay consistent while "
                    "accounts are added (no account is shown twice or skipped).",
        responses={200: AccountListOut, 400: FIELD_ERRORS, 401: NOT_AUTHENTICATED},
    )
    def get(self, request):
        query = AccountListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        filters = AccountFilters.from_params({
            **{key: params.get(key) for key in ("status", "age", "balance_min", "balance_max", "batch", "q", "sort")},
            "client": request.user.client.pk,
        })
        page = keyset_page(debtor_accounts(filters), filters.sort, params.get("cursor"), size=params["page_size"])
        next_url = None
        if page.next_cursor:
            next_url = replace_query_param(request.build_absolute_uri(), "cursor", page.next_cursor)
        return Response(AccountListOut({"results": page.rows, "next": next_url}).data)


class AccountsRoute(AccountListView, AccountPlaceView):
    """/api/v1/accounts/: GET lists (AccountListView), POST places one (AccountPlaceView)."""


class AccountDetailView(ClientApiView):
    """One account, by the client's own reference."""

    renderer_classes = [JSONRenderer]

    @extend_schema(
        operation_id="accounts_retrieve", tags=TAGS, summary="Read one account",
        parameters=[OpenApiParameter("client_reference", str, OpenApiParameter.PATH,
                                     description="Your reference for the account (URL-encoded).")],
        responses={200: AccountOut, 401: NOT_AUTHENTICATED,
                   404: OpenApiResponse(DetailOut, description="No account of yours has this reference.")},
    )
    def get(self, request, client_reference):
        account = get_scoped_or_404(DebtorAccount, client=request.user.client, client_reference=client_reference)
        return Response(AccountOut(account).data)
