"""What a payment post reads under the account's row lock, written by hand.

A post needs the account (locked until its transaction ends), whether it has an open promise to
pay and a callback due (its new worklist score), whether the idempotency key was used before, and
the client's contract terms and fee tiers. Through the ORM that was six SELECTs, and building them
was about half of a post's CPU (bench/payments: the account's locking SELECT alone took 2 ms of
Python against 0.2 ms for the same row read by hand). Here the account, its two flags and the key
come in one statement and the terms in a second (a third for tiered fees). Rows become model
instances through portal.rows.select (as Model.objects.raw, each backend's converters applied);
the tenant scope is applied as TenantManager applies it (portal.tenancy.scope_sql).
"""
from dataclasses import dataclass
from functools import cache

from django.db import connection

from accounts.models import ContractTerms, FeeTier
from collections_work.models import Callback, DebtorAccount, Promise
from payments.models import Installment, JournalEntry, Payment, PaymentPlan
from portal import rows
from portal.tenancy import scope_sql


@dataclass(frozen=True)
class Locked:
    account: DebtorAccount
    terms: ContractTerms | None  # None: the client has no terms
    tiers: list[FeeTier]  # the terms' fee tiers by min_age_days ([] unless the fee is tiered)
    open_promise: bool
    callback_due: bool
    key_payment_id: int | None  # the payment posted under the idempotency key before, if any
    # Ids reserved for the new payment and its journal entry (PostgreSQL), so that their rows can
    # be written together (portal.rows.batched); None elsewhere (the INSERT gives them).
    payment_id: int | None
    entry_id: int | None


def _for_update(alias: str) -> str:
    """PostgreSQL locks the row; SQLite (the embedded mode) locks the whole database on write."""
    return f" FOR UPDATE OF {alias}" if connection.features.has_select_for_update_of else ""


def _next_id(model) -> str:
    """SQL for a new id of `model` from its sequence (PostgreSQL), else NULL. The sequence's name
    is looked up once (pg_get_serial_sequence in every post cost 0.1 ms)."""
    if connection.vendor != "postgresql":
        return "NULL"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [model._meta.db_table, model._meta.pk.column])
        sequence = cursor.fetchone()[0]
    return f"nextval('{sequence}')"


@cache
def _account_sql(vendor: str) -> str:
    return (f"SELECT {rows.columns(DebtorAccount, 'a')}, "
            f"EXISTS (SELECT 1 FROM {Promise._meta.db_table} p WHERE p.account_id = a.id AND p.status = %s) "
            f"AS open_promise, "
            f"EXISTS (SELECT 1 FROM {Callback._meta.db_table} c WHERE c.account_id = a.id AND c.done_at IS NULL "
            f"AND c.due_at <= %s) AS callback_due, "
            f"(SELECT y.id FROM {Payment._meta.db_table} y WHERE y.agency_id = a.agency_id "
            f"AND y.idempotency_key = %s) AS key_payment_id, "
            f"{_next_id(Payment)} AS new_payment_id, {_next_id(JournalEntry)} AS new_entry_id "
            f"FROM {DebtorAccount._meta.db_table} a WHERE a.id = %s")


def account_for_post(account_id: int, *, key: str | None, now) -> Locked:
    """Lock the debtor account `account_id` (a row lock until the transaction ends) and read what
    a post needs with it. `key`: the stored idempotency key, or None; `now`: an aware datetime (a
    callback due at or before it counts). Raises DebtorAccount.DoesNotExist for an account outside
    the tenant scope, as the ORM's get() would; TenantScopeError with no scope."""
    scope, scope_params = scope_sql("a")
    accounts = rows.select(DebtorAccount, _account_sql(connection.vendor) + scope + _for_update("a"),
                           [Promise.Status.OPEN, now, key, account_id, *scope_params])
    if not accounts:
        raise DebtorAccount.DoesNotExist("DebtorAccount matching query does not exist.")
    account = accounts[0]
    terms = next(iter(rows.select(
        ContractTerms, f"SELECT {rows.columns(ContractTerms)} FROM {ContractTerms._meta.db_table} WHERE client_id = %s",
        [account.client_id])), None)
    tiers = []
    if terms is not None and terms.fee_type == ContractTerms.FeeType.TIERED:
        tiers = rows.select(
            FeeTier, f"SELECT {rows.columns(FeeTier)} FROM {FeeTier._meta.db_table} WHERE terms_id = %s "
                     "ORDER BY min_age_days", [terms.pk])
    return Locked(account=account, terms=terms, tiers=tiers, open_promise=bool(account.open_promise),
                  callback_due=bool(account.callback_due), key_payment_id=account.key_payment_id,
                  payment_id=account.new_payment_id, entry_id=account.new_entry_id)


@cache
def _installments_sql() -> str:
    return (f"SELECT {rows.columns(Installment, 'i')} FROM {Installment._meta.db_table} i "
            f"JOIN {PaymentPlan._meta.db_table} p ON p.id = i.plan_id WHERE p.account_id = %s AND p.status = %s")


def current_installments(account_id: int) -> list[Installment]:
    """The installments of the account's current plan, oldest due first, each locked (call with
    the account's lock held); [] with no current plan."""
    scope, scope_params = scope_sql("i")
    return rows.select(Installment, _installments_sql() + scope + " ORDER BY i.due_date, i.number" + _for_update("i"),
                       [account_id, PaymentPlan.Status.CURRENT, *scope_params])
