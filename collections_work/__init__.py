"""Debtors and debtor accounts, and the work on them.

    models.py          every model of the app (label `collections_work`; tables unchanged)
    compliance.py      the contact rules: who may be called or emailed, when (Regulation F)
    debtor_accounts/   the kernel: the only code that changes an account's money and status,
                       the timeline events, the score, the account pages and exports
    placements/        placing accounts: file intake, the one-account form, placement history
    worklist/          queues, "Next account", the workspace and its actions, managers' pages
    api/               the client REST API (placing and reading accounts)

Dependencies run one way: api -> placements -> worklist -> debtor_accounts -> models/compliance
(enforced by tests/test_architecture.py).
"""
