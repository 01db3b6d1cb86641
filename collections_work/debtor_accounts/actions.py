"""Lock-and-change: the only code that changes a debtor account's money and status.

Services call these inside their own transaction, on an account they locked with
`account_lock` (row lock: two payments or status changes on one account queue behind each
other). Each function keeps `balance = principal + interest + fees - paid`, moves the status
by the one transition table below, writes the timeline entry, and re-scores the account.
The placement writer changes many accounts in one SQL statement; it takes its status rule from
`balance_status_sql`, generated from the same table.
"""
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum

from django.db.models import Q
from django.utils import timezone

from collections_work.debtor_accounts import events, scoring
from collections_work.models import DebtorAccount, Dispute, Promise
from portal import rows
from portal.errors import DomainError

Status = DebtorAccount.Status
ZERO = Decimal("0.00")

# In the worklist's queues (new or in collection).
IN_QUEUE_STATUSES = (Status.NEW, Status.ACTIVE)
# Still being collected, whether worked now, paused (on hold) or paid by a plan.
OPEN_STATUSES = (Status.NEW, Status.ACTIVE, Status.ON_HOLD, Status.PLAN)
# Paid in full when the balance reaches zero (a recalled account's payment still pays it).
SETTLED_BY_PAYMENT = (Status.NEW, Status.ACTIVE, Status.ON_HOLD, Status.PLAN, Status.RECALLED)
# No payment can be taken any more.
NO_PAYMENTS_STATUSES = (Status.PAID, Status.SETTLED, Status.CLOSED)


class By(str, Enum):
    """Who moves the status: the client (recall, hold), agency staff, or the portal itself
    (disputes, payments, a placement restating the amounts)."""

    CLIENT = "client"
    STAFF = "staff"
    SYSTEM = "system"


C, S, P = By.CLIENT, By.STAFF, By.SYSTEM
# THE transition table: new status -> {status it may follow: who may make that move}.
TRANSITIONS = {
    Status.ON_HOLD: {Status.NEW: {C, S, P}, Status.ACTIVE: {C, S, P}, Status.PLAN: {C, S, P}, Status.ON_HOLD: {P}},
    Status.ACTIVE: {Status.NEW: {S}, Status.ON_HOLD: {C, S, P}, Status.CLOSED: {S}, Status.PAID: {P},
                    Status.SETTLED: {P}, Status.PLAN: {S, P}},
    # A debtor accepting a plan, or a reversal reopening one (the portal moves it; staff cancel a
    # plan through the plan itself).
    Status.PLAN: {Status.NEW: {P}, Status.ACTIVE: {P}, Status.PAID: {P}, Status.SETTLED: {P}},
    # A settlement paid in full: the rest written off.
    Status.SETTLED: {Status.NEW: {P}, Status.ACTIVE: {P}, Status.ON_HOLD: {P}, Status.PLAN: {P}},
    Status.RECALLED: {Status.NEW: {C}, Status.ACTIVE: {C}, Status.ON_HOLD: {C}, Status.PLAN: {C}},
    Status.CLOSED: {Status.NEW: {S}, Status.ACTIVE: {S}, Status.ON_HOLD: {S}, Status.PLAN: {S}},
    Status.PAID: {status: {P} for status in SETTLED_BY_PAYMENT},
}
# What the client's actions are called on its account page.
CLIENT_ACTION_LABELS = {Status.ON_HOLD: "Put on hold", Status.ACTIVE: "Release from hold",
                        Status.RECALLED: "Recall from the agency"}
CLIENT_DONE_LABELS = {Status.RECALLED: "Recalled", Status.ON_HOLD: "Put on hold", Status.ACTIVE: "Released from hold"}
DISPUTE_HOLD_PREFIX = "Disputed"


def may_move(current: str, to: str, by: By) -> bool:
    return by in TRANSITIONS.get(to, {}).get(current, ())


def status_choices(account, by: By) -> list[tuple[str, str]]:
    """[(status, label)] the account may move to by `by`, in the table's order. Client choices
    carry the action's name ("Put on hold"), staff choices the status's name."""
    choices = []
    for to in TRANSITIONS:
        if to != account.status and may_move(account.status, to, by):
            label = CLIENT_ACTION_LABELS.get(to) if by == By.CLIENT else Status(to).label
            choices.append((to, label))
    return choices


def account_lock(account, *, related: tuple[str, ...] = ("debtor", "client", "agency")) -> DebtorAccount:
    """The account (or id) re-read with its row locked until the transaction ends, with the
    `related` relations (select_related paths: by default its debtor, client and agency; a
    caller may ask for less, or for more, e.g. the client's contract terms) read in the same
    statement. Only the account's row is locked. Raises DebtorAccount.DoesNotExist outside the
    tenant scope."""
    pk = getattr(account, "pk", account)
    return DebtorAccount.objects.select_related(*related).select_for_update(of=("self",)).get(pk=pk)


def rescore(account, now: datetime | None = None) -> int:
    """Store the account's current worklist score (scoring.account_rescore)."""
    return scoring.account_rescore(account, now=now)


def check_not_disputed(account, doing: str) -> None:
    """Collection pauses while the debtor disputes the debt (it resumes when resolved).
    Raises DomainError naming what was being done."""
    if Dispute.objects.filter(account=account, resolved_at__isnull=True).exists():
        raise DomainError(f"The debtor disputes this debt: resolve the dispute before {doing}.")


# --- Status --------------------------------------------------------------------------------------

def status_change(account, *, to: str, by: By, actor, reason: str, summary: str | None = None,
                  hold_reason: str | None = None, now: datetime | None = None) -> str:
    """Move a locked account to `to`, as `by` may (TRANSITIONS), with the timeline entry.

    `reason` is required (it goes on the timeline); `summary` replaces the default wording;
    `hold_reason` is what an on-hold account shows (default: the reason). Returns the status
    before. Raises DomainError(field="status") for a move the table does not allow.
    """
    before = account.status
    if not may_move(before, to, by):
        raise DomainError(_refusal(account, to, by), field="status")
    account.status = to
    account.hold_reason = (hold_reason or reason)[:200] if to == Status.ON_HOLD else ""
    account.save(update_fields=["status", "hold_reason", "updated_at"])
    if summary is None:
        summary = (f"{CLIENT_DONE_LABELS[to]}: {reason}" if by == By.CLIENT
                   else f"Status: {Status(before).label} → {account.get_status_display()}: {reason}")
    events.status_changed(account, actor=actor, summary=summary, at=now)
    rescore(account, now)
    return before


def _refusal(account, to, by) -> str:
    current = account.get_status_display().lower()
    if by == By.CLIENT:
        doing = "released" if to == Status.ACTIVE else "put " + Status(to).label.lower()
        return f"An account that is {current} cannot be {doing}."
    label = Status(to).label if to in Status.values else to
    return f"An account that is {current} cannot move to “{label}”."


def dispute_hold(account, *, actor, reason: str, summary: str | None = None, now: datetime | None = None) -> str:
    """A dispute puts the account on hold ("Disputed: ..."); returns the status before. The
    timeline says `summary` (default "Disputed by the debtor: <reason>")."""
    return status_change(account, to=Status.ON_HOLD, by=By.SYSTEM, actor=actor, reason=reason, now=now,
                         hold_reason=f"{DISPUTE_HOLD_PREFIX}: {reason}",
                         summary=summary or f"Disputed by the debtor: {reason}")


def dispute_release(account, *, actor, resolution: str, now: datetime | None = None) -> None:
    """A dispute was resolved (call after marking it so): once none is open, an account held
    for a dispute goes back into collection. The timeline says how it was resolved either way."""
    still_disputed = Dispute.objects.filter(account=account, resolved_at__isnull=True).exists()
    if (not still_disputed and account.hold_reason.startswith(DISPUTE_HOLD_PREFIX)
            and may_move(account.status, Status.ACTIVE, By.SYSTEM)):
        account.status, account.hold_reason = Status.ACTIVE, ""
        account.save(update_fields=["status", "hold_reason", "updated_at"])
    events.status_changed(account, actor=actor, summary=f"Dispute resolved: {resolution}", at=now)
    rescore(account, now)


# --- Money ---------------------------------------------------------------------------------------

COMPONENTS = ("fees", "interest", "principal")
DEFAULT_ORDER = COMPONENTS


@dataclass(frozen=True)
class Allocation:
    """How much of an amount went to each part of the balance (Decimal cents)."""

    fees: Decimal = ZERO
    interest: Decimal = ZERO
    principal: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.fees + self.interest + self.principal


def _outstanding(account, component: str) -> Decimal:
    return max(getattr(account, component) - getattr(account, f"{component}_paid"), ZERO)


def allocate(account, amount: Decimal, order=DEFAULT_ORDER) -> Allocation:
    """Split `amount` over the account's fees, interest and principal in `order` (the client's
    contract terms), each up to what is still owed on it. What the parts cannot take (money
    paid before placement is not split by part) goes to the last one."""
    left, parts = amount, {}
    for component in order:
        parts[component] = min(left, _outstanding(account, component))
        left -= parts[component]
    parts[order[-1]] += left
    return Allocation(**parts)


def check_takes_payment(account, amount) -> None:
    """Raise DomainError(field="amount") unless a locked account can take `amount` (Decimal):
    not paid, settled or closed, and not more than the balance (the message gives the balance)."""
    if account.status in NO_PAYMENTS_STATUSES:
        raise DomainError(f"This account is {account.get_status_display().lower()}: "
                          "it cannot take another payment.", field="amount")
    if amount > account.balance:
        raise DomainError(f"The amount is more than the balance of {account.balance:,.2f} {account.currency}. "
                          "At most the balance can be paid.", field="amount")


def payment_apply(account, *, amount, received_on: date, order=DEFAULT_ORDER, now: datetime | None = None,
                  open_promise: bool | None = None, callback_due: bool | None = None):
    """Money received on a locked account: paid grows and the balance shrinks by `amount`
    (Decimal, cents), split over fees, interest and principal in `order`; the last payment date
    moves forward, the account is Paid in full at zero, the open promise to pay is credited,
    and the account is re-scored. `open_promise` / `callback_due`: whether the account has an
    open promise / a callback due, when the caller read them with the lock (None: read here).

    Returns (allocation, the id of the collector to credit: the promise's maker, else the
    assigned collector; None for nobody). Raises DomainError via `check_takes_payment`. The
    caller records the payment row and its timeline entry (events.payment_recorded) in the same
    transaction."""
    check_takes_payment(account, amount)
    now = now or timezone.now()
    allocation = allocate(account, amount, order)
    if open_promise is False:  # the caller read that there is none
        promise, credited_to = None, account.assigned_collector_id
    else:
        promise, credited_to = _credit_promise(account, amount, now)
    for component in COMPONENTS:
        setattr(account, f"{component}_paid", getattr(account, f"{component}_paid") + getattr(allocation, component))
    account.paid += amount
    account.balance -= amount
    if account.last_payment_date is None or received_on > account.last_payment_date:
        account.last_payment_date = received_on
    fields = ["paid", "balance", "last_payment_date", "fees_paid", "interest_paid", "principal_paid", "updated_at",
              "priority"]
    if account.balance == 0 and may_move(account.status, Status.PAID, By.SYSTEM):
        account.status, account.hold_reason = Status.PAID, ""
        fields += ["status", "hold_reason"]
    # The new score goes out with the money in one UPDATE (scoring.account_rescore would write it
    # again); with no open promise on the account, no promise can be due.
    account.priority = scoring.priority_of(scoring.score_parts(account, now=now, callback_due=callback_due,
                                                               promise_due=False if promise is None else None))
    rows.update(account, fields)
    return allocation, credited_to


def undo_order(allocation: Allocation, amount: Decimal, order=DEFAULT_ORDER) -> Allocation:
    """The parts a reversal of `amount` takes back from a payment split as `allocation`: the last
    paid first (a full reversal takes back exactly the allocation)."""
    left, parts = amount, {}
    for component in reversed(order):
        parts[component] = min(left, getattr(allocation, component))
        left -= parts[component]
    return Allocation(**parts)


def payment_undo(account, *, parts: Allocation, reopen_to: str, now: datetime | None = None) -> str:
    """A reversal takes `parts` back from a locked account: paid shrinks, the balance grows, and
    an account paid in full or settled reopens to `reopen_to` (back on its plan, or in
    collection). Returns the status before."""
    now = now or timezone.now()
    before = account.status
    for component in COMPONENTS:
        setattr(account, f"{component}_paid", getattr(account, f"{component}_paid") - getattr(parts, component))
    account.paid -= parts.total
    account.balance += parts.total
    account.save(update_fields=["paid", "balance", "fees_paid", "interest_paid", "principal_paid", "updated_at"])
    if account.status in (Status.PAID, Status.SETTLED) and account.balance > 0:
        _move(account, reopen_to)
    rescore(account, now)
    return before


def settlement_write_off(account, *, amount: Decimal, now: datetime | None = None) -> None:
    """A settlement paid in full: the rest of the balance (`amount`) is written off, not paid, and
    the account is Settled."""
    account.adjusted += amount
    account.balance -= amount
    account.save(update_fields=["adjusted", "balance", "updated_at"])
    _move(account, Status.SETTLED)
    rescore(account, now)


def settlement_undo(account, *, amount: Decimal, reopen_to: str, now: datetime | None = None) -> None:
    """A reversal broke a settlement that was paid: the write-off (`amount`) is owed again."""
    account.adjusted -= amount
    account.balance += amount
    account.save(update_fields=["adjusted", "balance", "updated_at"])
    if account.status in (Status.PAID, Status.SETTLED):
        _move(account, reopen_to)
    rescore(account, now)


def _move(account, to):
    if not may_move(account.status, to, By.SYSTEM):
        raise DomainError(f"An account that is {account.get_status_display().lower()} cannot become "
                          f"{Status(to).label.lower()}.")
    account.status, account.hold_reason = to, ""
    account.save(update_fields=["status", "hold_reason", "updated_at"])


def _credit_promise(account, amount, now):
    """Count a payment towards the account's open promise, which is kept once covered. Returns
    (the promise, or None when the account has no open promise; the id of the collector to credit)."""
    promise = Promise.objects.filter(account=account, status=Promise.Status.OPEN).order_by("created_at").first()
    if promise is None:
        return None, account.assigned_collector_id
    promise.paid_amount += amount
    fields = ["paid_amount"]
    if promise.paid_amount >= promise.amount:
        promise.status, promise.resolved_at = Promise.Status.KEPT, now
        fields += ["status", "resolved_at"]
        events.promise_kept(account, promise=promise, at=now)
    promise.save(update_fields=fields)
    return promise, promise.made_by_id


def balance_status_sql(table: str, balance: str) -> str:
    """The SQL CASE giving the status of `table`'s row once its balance is the SQL expression
    `balance`: a paid account owing again is back in collection, an account whose balance is
    covered is paid (as payment_apply decides one account at a time)."""
    settled = ", ".join(f"'{status}'" for status in SETTLED_BY_PAYMENT)
    return (f"CASE WHEN {table}.status = '{Status.PAID}' AND {balance} > 0 THEN '{Status.ACTIVE}' "
            f"WHEN {table}.status IN ({settled}) AND {balance} <= 0 THEN '{Status.PAID}' ELSE {table}.status END")


def restated_paid_sql(table: str, restated: str) -> str:
    """The SQL for `table`'s row's `paid` once the client restates what was paid before placement
    as the SQL expression `restated` (a placement's "update" with a paid column): the restated
    amount plus every payment recorded in the portal since (paid - paid_at_placement), which a
    file never overwrites. Set paid_at_placement to `restated` in the same statement; the trust
    ledger's check (payments = paid - paid_at_placement) then still holds."""
    return f"({restated} + {table}.paid - {table}.paid_at_placement)"


def in_queue_filter() -> Q:
    return Q(status__in=IN_QUEUE_STATUSES)


def accounts_rescore(queryset, now: datetime | None = None) -> int:
    """Re-score many accounts in batches (after a placement, or as time moves every score);
    returns how many scores changed."""
    return scoring.accounts_rescore(queryset, now=now)


def accounts_rescore_part(queryset, *, after_id: int = 0, limit: int | None = None,
                          now: datetime | None = None) -> tuple[int, int | None]:
    """One part of a long re-score (a bulk job's chunk): scoring.accounts_rescore_part."""
    return scoring.accounts_rescore_part(queryset, after_id=after_id, limit=limit, now=now)
