"""Django admin for superusers only (the portal's own pages serve everyone else).

The admin runs in the all-tenants scope (see TenantScopeMiddleware), so every list shows the
agency column and can be filtered by it. Secrets show as hashes or last four digits only."""
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from accounts.models import Agency, ApiKey, Client, ContractTerms, FeeTier, Invitation, Membership, User
from portal.models import AuditEvent, OutboundEmail

admin.site.has_permission = lambda request: request.user.is_active and request.user.is_superuser


def admin_login(request, extra_context=None):
    """The admin has no sign-in form of its own: its login page sends to the portal's one sign-in
    (allauth: password, two-factor, the lockout), which returns to `next` afterwards.

    Django's admin login checked only the password, so with TOTP on a superuser got into the
    admin without a code and wrong passwords there were never locked out (issue 11, case 1)."""
    next_url = request.GET.get(REDIRECT_FIELD_NAME) or reverse("admin:index")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        next_url = reverse("admin:index")
    if request.user.is_authenticated and admin.site.has_permission(request):
        return redirect(next_url)
    return redirect(f"{reverse('account_login')}?{urlencode({REDIRECT_FIELD_NAME: next_url})}")


admin.site.login = admin_login


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_active", "is_superuser", "last_login"]
    search_fields = ["email", "full_name"]
    fieldsets = [
        (None, {"fields": ["email", "password", "full_name", "time_zone"]}),
        ("Access", {"fields": ["is_active", "is_staff", "is_superuser"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "mfa_required_for_staff", "created_at"]
    prepopulated_fields = {"slug": ["name"]}


class TenantAdmin(admin.ModelAdmin):
    list_filter = ["agency"]


@admin.register(Client)
class ClientAdmin(TenantAdmin):
    list_display = ["name", "agency", "status", "remittance_account_last4", "created_at"]
    search_fields = ["name", "legal_name"]
    readonly_fields = ["remittance_account_last4", "remittance_routing_last4", "remittance_account_fingerprint"]


@admin.register(Membership)
class MembershipAdmin(TenantAdmin):
    list_display = ["user", "agency", "client", "role", "is_active"]
    list_filter = ["agency", "role", "is_active"]


class FeeTierInline(admin.TabularInline):
    model = FeeTier
    extra = 0


@admin.register(ContractTerms)
class ContractTermsAdmin(TenantAdmin):
    list_display = ["client", "agency", "fee_type", "flat_fee_percent", "settlement_floor_percent"]
    inlines = [FeeTierInline]


@admin.register(Invitation)
class InvitationAdmin(TenantAdmin):
    list_display = ["email", "agency", "client", "role", "status", "expires_at"]
    readonly_fields = ["token_hash"]


@admin.register(ApiKey)
class ApiKeyAdmin(TenantAdmin):
    list_display = ["name", "prefix", "client", "agency", "created_at", "revoked_at"]
    readonly_fields = ["prefix", "key_hash"]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "agency", "actor_email", "action", "object_repr", "ip_address"]
    list_filter = ["agency", "action"]
    search_fields = ["actor_email", "object_repr"]


@admin.register(OutboundEmail)
class OutboundEmailAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "agency", "to", "subject", "status", "attempts", "next_attempt_at", "last_error"]
    list_filter = ["status", "agency"]
