"""Property: whatever sequence of payments (by the agency or to the client), reversals, plans
(full or settlement), plan cancellations and settlements happens on an account, every journal
entry balances, the account's money adds up, and ledger_check finds nothing wrong."""
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payments.ledger import selectors as ledger
from payments.models import Installment, JournalLine, Payment, PaymentPlan, PlanOffer
from payments.plans.services import plan_cancel
from payments.posting.services import payment_post, payment_reverse
from portal.errors import DomainError
from tests.factories import DebtorAccountFactory
from tests.payments.conftest import reload

D = Decimal
CENTS = st.integers(min_value=1, max_value=60_000).map(lambda cents: D(cents) / 100)
OPERATIONS = st.lists(st.one_of(
    st.tuples(st.just("pay"), CENTS, st.sampled_from(["agency", "client"])),
    st.tuples(st.just("reverse"), st.integers(0, 20), st.one_of(st.none(), CENTS)),
    st.tuples(st.just("plan"), st.integers(1, 4), st.sampled_from(["full", "settlement"])),
    st.tuples(st.just("cancel"), st.just(0), st.just(0)),
), min_size=1, max_size=14)


def _plan(agency, account, count, kind):
    if PaymentPlan.objects.filter(account=account, status="current").exists() or account.status not in ("new", "active"):
        return
    total = account.balance if kind == "full" else (account.balance * D("0.8")).quantize(D("0.01"))
    if total < count:
        return
    offer = PlanOffer.objects.create(agency=agency, client=account.client, account=account, status="accepted",
                                     kind="installments" if kind == "full" else "lump_sum", total_amount=total,
                                     installment_count=count, first_due_date=timezone.localdate())
    plan = PaymentPlan.objects.create(agency=agency, client=account.client, account=account, offer=offer,
                                      kind=offer.kind, total_amount=total, accepted_at=timezone.now())
    each = (total / count).quantize(D("0.01"))
    for number in range(1, count + 1):
        amount = each if number < count else total - each * (count - 1)
        Installment.objects.create(agency=agency, client=account.client, plan=plan, number=number, amount=amount,
                                   due_date=timezone.localdate() + timedelta(days=30 * number))
    from collections_work.debtor_accounts import actions

    actions.status_change(account, to="plan", by=actions.By.SYSTEM, actor=None, reason="test plan")


def _apply(alpha, account, operation):
    name, first, second = operation
    account.refresh_from_db()
    try:
        if name == "pay":
            payment_post(agency=alpha.agency, actor=alpha.collector, account=account, amount=min(first, account.balance),
                         received_on=timezone.localdate(), method="check" if second == "agency" else "direct",
                         received_by=second, source="staff")
        elif name == "reverse":
            payments = list(Payment.objects.filter(account=account).order_by("pk"))
            if payments:
                payment = payments[first % len(payments)]
                left = payment.amount - payment.reversed_amount
                amount = None if second is None else min(second, left)
                payment_reverse(agency=alpha.agency, actor=alpha.collector, payment=payment, kind="chargeback",
                                amount=amount, reason="property test")
        elif name == "plan":
            _plan(alpha.agency, account, first, second)
        elif name == "cancel":
            plan = PaymentPlan.objects.filter(account=account, status="current").first()
            if plan is not None:
                plan_cancel(agency=alpha.agency, actor=alpha.collector, plan=plan, reason="property test")
    except DomainError:
        pass  # refusals (a zero balance, nothing left to reverse) change nothing: checked below


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(operations=OPERATIONS, principal=st.integers(100, 500_000).map(lambda cents: D(cents) / 100))
def test_any_sequence_keeps_the_ledger_balanced_and_the_accounts_adding_up(alpha, operations, principal):
    account = DebtorAccountFactory(client=alpha.clients[0].client, principal=principal, interest=D("12.34"),
                                   fees=D("5.00"), debt_purpose="commercial")
    for operation in operations:
        _apply(alpha, account, operation)
        fresh = reload(account)
        assert fresh.balance == fresh.principal + fresh.interest + fresh.fees - fresh.paid - fresh.adjusted
        assert fresh.paid == fresh.fees_paid + fresh.interest_paid + fresh.principal_paid + fresh.paid_at_placement
        assert fresh.balance >= 0 and fresh.adjusted >= 0
    assert ledger.unbalanced_entries() == []
    assert ledger.accounts_not_matching_payments() == []
    lines = JournalLine.objects.filter(entry__account=account)
    assert sum(line.debit for line in lines) == sum(line.credit for line in lines)
