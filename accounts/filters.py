import django_filters
from django import forms

from accounts.models import Client
from portal.audit import action_label
from portal.models import AuditEvent


class AuditEventFilter(django_filters.FilterSet):
    action = django_filters.ChoiceFilter(empty_label="Any action")
    actor = django_filters.CharFilter(field_name="actor_email", lookup_expr="icontains", label="Who (email)")
    client = django_filters.ModelChoiceFilter(queryset=lambda request: Client.objects.all(), empty_label="Any client")
    since = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte", label="From",
                                      widget=forms.DateInput(attrs={"type": "date"}))
    until = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte", label="To",
                                      widget=forms.DateInput(attrs={"type": "date"}))

    class Meta:
        model = AuditEvent
        fields = ["action", "actor", "client", "since", "until"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        actions = AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct()
        self.filters["action"].extra["choices"] = sorted(((a, action_label(a)) for a in actions), key=lambda c: c[1])
