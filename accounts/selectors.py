"""Reads shared by pages. All return querysets already scoped to the caller's tenant."""
from django.db.models import Count, Q

from accounts.models import CLIENT_ROLES, STAFF_ROLES, Client, Invitation, Membership


def clients_overview():
    return Client.objects.annotate(
        user_count=Count("memberships", filter=Q(memberships__is_active=True), distinct=True)
    ).select_related("terms")


def staff_memberships():
    return Membership.objects.filter(role__in=STAFF_ROLES).select_related("user").order_by("user__email")


def client_memberships(client):
    return Membership.objects.filter(client=client, role__in=CLIENT_ROLES).select_related("user").order_by("user__email")


def pending_invitations(**filters):
    return Invitation.objects.filter(accepted_at__isnull=True, revoked_at__isnull=True, **filters).select_related("client")
