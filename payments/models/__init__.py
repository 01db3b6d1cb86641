"""The payments app's models, by sub-domain (one app label, `payments`, for all of them).

    money.py    payments received, their allocation to installments, reversals
    ledger.py   the trust ledger: journal entries and their lines
    statements.py  remittance statements (clients) and plan statements (debtors)
    offers.py   plan and settlement offers, and the clients' self-service plan rules
    plans.py    accepted payment plans and their installments
    links.py    the debtor's secure links and the e-signature evidence with its agreement PDF
    online.py   online card payments: the agencies' Stripe keys, webhook events, saved cards
"""
from payments.models.ledger import JournalEntry, JournalLine, LedgerAccount
from payments.models.links import AcceptanceEvidence, SecureLink
from payments.models.money import InstallmentAllocation, Payment, Reversal
from payments.models.offers import Frequency, PlanOffer, PlanRule
from payments.models.online import AutopayAttempt, AutopayCard, CardCharge, StripeAccount, StripeEvent
from payments.models.plans import Installment, PaymentPlan, PlanStepSettings
from payments.models.statements import DebtorStatement, RemittanceStatement

__all__ = ["AcceptanceEvidence", "AutopayAttempt", "AutopayCard", "CardCharge", "DebtorStatement", "Frequency",
           "Installment", "InstallmentAllocation", "JournalEntry", "JournalLine", "LedgerAccount", "Payment",
           "PaymentPlan", "PlanOffer", "PlanRule", "PlanStepSettings", "RemittanceStatement", "Reversal", "SecureLink", "StripeAccount",
           "StripeEvent"]
