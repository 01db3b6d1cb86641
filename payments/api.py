"""The client API for payments (mounted at /api/v1/payments/ by payments/urls.py).

A client's system reports payments the debtor made straight to the client, with an
`Idempotency-Key` header (the same key for the same payment returns the first one; for a
different payment it is refused with 409), and reads the payments on its accounts. Every call
runs in the API key's client scope (accounts.api.ClientApiView).
"""
from datetime import date

from django.db.models import Q
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.response import Response

from accounts.api import ClientApiView
from collections_work.api.views import DecimalJSONParser
from collections_work.models import DebtorAccount
from payments.models import Payment
from payments.posting.services import IdempotencyConflict, payment_post
from portal.api import AmountInput, IsoDate
from portal.errors import DomainError
from portal.text import visible_text_error

TAGS = ["payments"]
MAX_KEY_LENGTH = 255  # as Stripe's Idempotency-Key; longer keys are stored hashed (stored_key)


def money(**kwargs):
    return AmountInput(max_digits=14, decimal_places=2, coerce_to_string=True, **kwargs)


class PaymentReportIn(serializers.Serializer):
    client_reference = serializers.CharField(max_length=100, help_text="Your reference of the debtor account.")
    amount = money(help_text="What the debtor paid you, e.g. \"125.50\" (at most the balance).")
    received_on = IsoDate(help_text="The day you received it, YYYY-MM-DD (not in the future).")
    method = serializers.ChoiceField(choices=[c for c in Payment.Method.values], default=Payment.Method.DIRECT_TO_CLIENT,
                                     help_text="How it was paid, if you know.")
    reference = serializers.CharField(max_length=100, required=False, allow_blank=True,
                                      help_text="Your reference: check number, transfer id...")
    note = serializers.CharField(max_length=300, required=False, allow_blank=True)

    def validate_reference(self, value):
        if (message := visible_text_error("reference", value)) is not None:
            raise serializers.ValidationError(message)
        return value


class ReversalOut(serializers.Serializer):
    kind = serializers.CharField()
    amount = money()
    return_code = serializers.CharField()
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class PaymentOut(serializers.Serializer):
    id = serializers.IntegerField()
    client_reference = serializers.CharField(source="account.client_reference")
    amount = money()
    received_on = serializers.DateField()
    method = serializers.CharField()
    received_by = serializers.CharField(help_text="agency (its trust account) or client (paid to you directly)")
    source = serializers.CharField()
    reference = serializers.CharField()
    commission = money(help_text="The agency's commission on this payment.")
    reversed_amount = money()
    reversals = ReversalOut(many=True, source="reversals.all")
    created_at = serializers.DateTimeField()


class PaymentReportedOut(PaymentOut):
    balance = money(source="account.balance", help_text="The account's balance after this payment.")
    replayed = serializers.BooleanField(help_text="True when this Idempotency-Key had reported this payment before.")


class KeyConflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_conflict"


class PaymentsView(ClientApiView):
    """Report a payment made to you directly (POST), or list the payments on your accounts (GET)."""

    parser_classes = [DecimalJSONParser]

    @extend_schema(
        operation_id="payments_report", tags=TAGS, request=PaymentReportIn, summary="Report a direct payment",
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=True,
                                     description="A key of yours, unique per payment (e.g. your transaction id).")],
        responses={201: PaymentReportedOut, 200: OpenApiResponse(PaymentReportedOut, description="Already reported "
                                                                 "with this key: the first payment, `replayed` true."),
                   400: OpenApiResponse(description="Field errors, or a missing Idempotency-Key."),
                   409: OpenApiResponse(description="The key was used for a different payment; nothing was posted.")},
        examples=[OpenApiExample("A check received", request_only=True, value={
            "client_reference": "INV-1001", "amount": "250.00", "received_on": "2026-11-30", "method": "check",
            "reference": "CHK 4411"})],
    )
    def post(self, request):
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key:
            raise serializers.ValidationError({"Idempotency-Key": ["Send an Idempotency-Key header, unique per payment."]})
        if len(key) > MAX_KEY_LENGTH:
            raise serializers.ValidationError({"Idempotency-Key": [
                f"The Idempotency-Key is {len(key)} characters long; send at most {MAX_KEY_LENGTH}."]})
        payload = PaymentReportIn(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        account = DebtorAccount.objects.filter(client_reference=data["client_reference"]).first()
        if account is None:
            raise serializers.ValidationError({"client_reference": [f"No account {data['client_reference']} is placed."]})
        try:
            posted = payment_post(agency=request.user.agency, actor=None, account=account, amount=data["amount"],
                                  received_on=data["received_on"], method=data["method"],
                                  received_by=Payment.ReceivedBy.CLIENT, source=Payment.Source.API,
                                  reference=data.get("reference", ""), note=data.get("note", ""),
                                  idempotency_key=f"api:{request.user.client.pk}:{key}")
        except IdempotencyConflict as error:
            raise KeyConflict(error.message) from None
        except DomainError as error:
            raise serializers.ValidationError({error.field or "detail": [error.message]}) from None
        payment = posted.payment
        payment.replayed = posted.replayed
        payment.account.refresh_from_db()
        return Response(PaymentReportedOut(payment).data,
                        status=status.HTTP_200_OK if posted.replayed else status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="payments_list", tags=TAGS, summary="Payments on your accounts",
        description="Newest first, `limit` a page (100 unless given, at most 1000). When more remain, the "
                    "response's `Link` header has the next page's address (rel=\"next\"); follow it until "
                    "there is none.",
        parameters=[OpenApiParameter("client_reference", str, description="Only this account's payments."),
                    OpenApiParameter("limit", int, description="Payments a page: 1 to 1000 (default 100)."),
                    OpenApiParameter("cursor", str, description="From the previous page's `Link: rel=\"next\"`.")],
        responses={200: OpenApiResponse(PaymentOut(many=True), description="A page of payments; a `Link` "
                                        "header (rel=\"next\") when there are more.")},
    )
    def get(self, request):
        payments = Payment.objects.select_related("account").prefetch_related("reversals").order_by("-received_on", "-id")
        reference = request.query_params.get("client_reference")
        if reference:
            payments = payments.filter(account__client_reference=reference)
        limit = _page_limit(request.query_params.get("limit"))
        if cursor := request.query_params.get("cursor"):
            day, last_id = _cursor_position(cursor)
            payments = payments.filter(Q(received_on__lt=day) | Q(received_on=day, id__lt=last_id))
        page = list(payments[:limit + 1])
        response = Response(PaymentOut(page[:limit], many=True).data)
        if len(page) > limit:
            last = page[limit - 1]
            params = request.query_params.copy()
            params["cursor"], params["limit"] = f"{last.received_on.isoformat()}_{last.pk}", str(limit)
            response["Link"] = f'<{request.build_absolute_uri(request.path)}?{params.urlencode()}>; rel="next"'
        return response


PAGE_DEFAULT, PAGE_MAX = 100, 1000


def _page_limit(raw) -> int:
    if raw in (None, ""):
        return PAGE_DEFAULT
    if not str(raw).isascii() or not str(raw).isdigit() or not 1 <= int(raw) <= PAGE_MAX:
        raise serializers.ValidationError({"limit": [f"Give a whole number from 1 to {PAGE_MAX}."]})
    return int(raw)


def _cursor_position(cursor: str):
    """(received_on, id) of the last payment of the page before, from "<YYYY-MM-DD>_<id>"."""
    day, _, last_id = cursor.partition("_")
    try:
        return date.fromisoformat(day), int(last_id)
    except ValueError:
        raise serializers.ValidationError({"cursor": ["This cursor is not one this API gave out; start again "
                                                      "without it."]}) from None
