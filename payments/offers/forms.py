"""The agency admin's self-service plan rules form (one row per balance range)."""
from decimal import Decimal

from django import forms

from portal.forms import AmountField


class PlanRuleForm(forms.Form):
    balance_from = AmountField(label="Balance from", min_value=Decimal("0"), decimal_places=2, max_digits=14)
    balance_to = AmountField(label="Balance up to", required=False, min_value=Decimal("0"), decimal_places=2,
                                    max_digits=14, help_text="Empty: no upper bound.")
    min_installment = AmountField(label="Smallest installment", min_value=Decimal("0.01"), decimal_places=2,
                                         max_digits=12)
    max_months = forms.IntegerField(label="Longest plan (months)", min_value=1, max_value=120)
    min_settlement_percent = AmountField(label="Lowest settlement %", min_value=Decimal("1"),
                                                max_value=Decimal("100"), decimal_places=2, max_digits=5)
    max_defer_days = forms.IntegerField(label="First payment within (days)", min_value=0, max_value=90)


PlanRuleFormSet = forms.formset_factory(PlanRuleForm, extra=1, can_delete=True, max_num=10)
