"""The client's REST API (foundation part: who am I). Later issues add placement endpoints."""
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, throttling, views
from rest_framework.response import Response

from portal.client_ip import client_ip
from portal.tenancy import Scope, activate_scope, deactivate_scope


class ApiKeyRateThrottle(throttling.SimpleRateThrottle):
    """Requests per API key (API_RATE, default 600 a minute); over it the client gets 429."""

    scope = "api_key"

    def get_cache_key(self, request, view):
        api_key = getattr(request.user, "api_key", None)
        if api_key is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": api_key.prefix}

    def get_ident(self, request):
        # DRF's own reading of X-Forwarded-For (NUM_PROXIES) is not used: the portal has one
        # client-IP function, configured by TRUSTED_PROXIES.
        return client_ip(request) or ""


class ClientApiView(views.APIView):
    """Base for client API endpoints: every query runs in the key's agency and client scope."""

    throttle_classes = [ApiKeyRateThrottle]
    _scope_token = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        principal = request.user
        self._scope_token = activate_scope(Scope(agency_id=principal.agency.pk, client_id=principal.client.pk))

    def dispatch(self, request, *args, **kwargs):
        try:
            return super().dispatch(request, *args, **kwargs)
        finally:
            if self._scope_token is not None:
                deactivate_scope(self._scope_token)
                self._scope_token = None


class ContractTermsOut(serializers.Serializer):
    fee_type = serializers.CharField()
    flat_fee_percent = serializers.DecimalField(max_digits=5, decimal_places=2)
    settlement_floor_percent = serializers.DecimalField(max_digits=5, decimal_places=2)
    max_plan_months = serializers.IntegerField()
    min_installment = serializers.DecimalField(max_digits=12, decimal_places=2)
    remittance_method = serializers.CharField()
    remittance_day = serializers.IntegerField()


class ClientOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    legal_name = serializers.CharField()
    status = serializers.CharField()
    agency = serializers.CharField(source="agency.name")
    terms = ContractTermsOut()


class ClientProfileView(ClientApiView):
    """The client this API key belongs to, with its contract terms."""

    @extend_schema(responses=ClientOut, operation_id="client_profile")
    def get(self, request):
        return Response(ClientOut(request.user.client).data)
