from django.urls import path

from collections_work.outbox import views

urlpatterns = [
    path("outbox/", views.outbox, name="outbox"),
    path("outbox/emails/<int:pk>/resend/", views.email_resend, name="outbox_email_resend"),
]
