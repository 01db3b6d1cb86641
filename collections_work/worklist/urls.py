"""Worklist routes: the collector's queues, the account workspace and its actions, the managers'
pages, and the debtor's opt-out link."""
from django.urls import path

from collections_work.worklist import views

urlpatterns = [
    path("worklist/", views.worklist_home, name="worklist_home"),
    path("worklist/next/", views.worklist_next, name="worklist_next"),
    path("worklist/queues/<int:pk>/", views.queue_detail, name="queue_detail"),
    path("worklist/manage/", views.worklist_manage, name="worklist_manage"),
    path("worklist/manage/queues/new/", views.queue_new, name="queue_new"),
    path("worklist/manage/queues/<int:pk>/", views.queue_edit, name="queue_edit"),
    path("worklist/manage/queues/<int:pk>/delete/", views.queue_delete, name="queue_delete"),
    path("worklist/manage/teams/new/", views.team_new, name="worklist_team_new"),
    path("worklist/manage/teams/<int:pk>/", views.team_edit, name="worklist_team_edit"),
    path("worklist/manage/templates/new/", views.template_new, name="email_template_new"),
    path("worklist/manage/templates/<int:pk>/", views.template_edit, name="email_template_edit"),
    path("worklist/manage/contact-policy/", views.contact_policy_edit, name="contact_policy_edit"),
    path("debtor-accounts/<int:pk>/work/", views.account_workspace, name="account_workspace"),
    path("debtor-accounts/<int:pk>/work/call/", views.workspace_call, name="workspace_call"),
    path("debtor-accounts/<int:pk>/work/note/", views.workspace_note, name="workspace_note"),
    path("debtor-accounts/<int:pk>/work/promise/", views.workspace_promise, name="workspace_promise"),
    path("debtor-accounts/<int:pk>/work/callback/", views.workspace_callback, name="workspace_callback"),
    path("debtor-accounts/<int:pk>/work/email/", views.workspace_email, name="workspace_email"),
    path("debtor-accounts/<int:pk>/work/dispute/", views.workspace_dispute, name="workspace_dispute"),
    path("debtor-accounts/<int:pk>/work/disputes/<int:dispute_pk>/resolve/", views.workspace_dispute_resolve,
         name="workspace_dispute_resolve"),
    path("debtor-accounts/<int:pk>/work/cease/", views.workspace_cease, name="workspace_cease"),
    path("debtor-accounts/<int:pk>/work/status/", views.workspace_status, name="workspace_status"),
    path("debtor-accounts/<int:pk>/work/time-zone/", views.workspace_time_zone, name="workspace_time_zone"),
    path("debtor-accounts/<int:pk>/work/release/", views.workspace_release, name="workspace_release"),
    path("opt-out/<str:token>/", views.contact_opt_out, name="contact_opt_out"),
]
