from django.urls import path

from accounts import api, views

urlpatterns = [
    path("", views.home, name="home"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("sign-in/unlock/<str:token>/", views.signin_unlock, name="signin_unlock"),
    # Agency staff
    path("agency/", views.agency_home, name="agency_home"),
    path("agency/clients/", views.client_list, name="client_list"),
    path("agency/clients/new/", views.client_invite, name="client_invite"),
    path("agency/clients/<int:pk>/", views.client_detail, name="client_detail"),
    path("agency/clients/<int:pk>/terms/", views.client_terms_edit, name="client_terms_edit"),
    path("agency/clients/<int:pk>/invite/", views.client_user_invite_by_staff, name="client_user_invite_by_staff"),
    path("agency/team/", views.team_list, name="team_list"),
    path("agency/team/invite/", views.staff_invite, name="staff_invite"),
    path("agency/audit/", views.audit_log, name="audit_log"),
    path("agency/settings/", views.agency_settings, name="agency_settings"),
    path("memberships/<int:pk>/role/", views.membership_role, name="membership_role"),
    path("memberships/<int:pk>/active/", views.membership_active, name="membership_active"),
    path("invitations/<int:pk>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    # Client users
    path("client/", views.client_home, name="client_home"),
    path("client/onboarding/", views.client_onboarding, name="client_onboarding"),
    path("client/onboarding/<slug:step>/", views.client_onboarding, name="client_onboarding_step"),
    path("client/terms/", views.client_terms, name="client_terms"),
    path("client/team/", views.client_team, name="client_team"),
    path("client/team/invite/", views.client_user_invite, name="client_user_invite"),
    path("client/api-keys/", views.api_keys, name="api_keys"),
    path("client/api-keys/<int:pk>/revoke/", views.api_key_revoke, name="api_key_revoke"),
    # REST API
    path("api/v1/client/", api.ClientProfileView.as_view(), name="api_client_profile"),
]
