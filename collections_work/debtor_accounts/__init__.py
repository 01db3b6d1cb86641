"""The debtor-account kernel.

    actions.py    lock-and-change: the ONE status transition table, payments onto the balance,
                  the promise credit, and the re-score, each inside the caller's transaction
    events.py     one function per kind of timeline entry (Activity)
    money.py      the one parser for an amount typed by a person or sent by a client's system
    scoring.py    the worklist score (stored on the account, so every change re-scores it here)
    panels.py     the registry other apps fill to show their parts on the account pages
    services.py   client and staff actions on the account page (status, notes, documents)
    selectors.py  filtered, keyset-paged account lists (pages, exports, API)
    views.py, forms.py, urls.py, exports.py   the account list, page, exports and actions
"""
