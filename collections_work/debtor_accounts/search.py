"""Searching debtor accounts: anywhere in the client's reference or the debtor's name, whatever
the case and the accents ("2024001" finds INV-2024001, "muller" finds Müller).

Both sides are folded by one database function, so what is searched and what is typed are
compared the same way:

- PostgreSQL: `portal_fold(text)` is lower(unaccent(text)), declared IMMUTABLE (migration 0016),
  and `portal_account_search(name, reference)` folds "name reference". Triggers keep that text
  in a narrow side table (AccountSearchEntry, migration 0021) whose trigram GIN index
  (`entry_search`) answers `LIKE '%...%'` reading ~100 bytes a match, not the account's row.
- SQLite (the embedded mode): the same two functions, in Python (`fold`), registered on every
  connection (collections_work.apps); a search reads the account table, which is fine at its
  size, and the side table stays empty.

A trigram index needs three letters or digits in a row to narrow anything down, so a query
without MIN_SUBSTRING of them ("42", "A-") matches a whole reference instead (an index lookup
per client), and the page says so.
"""
import re
import unicodedata

from django.db import connection
from django.db.models import F, Func, Q, TextField, Value
from django.db.models.lookups import Contains

MIN_SUBSTRING = 3
# Letters that do not decompose into a base letter and an accent (NFKD), spelled as unaccent does.
_SPECIAL = str.maketrans({"ß": "ss", "ẞ": "SS", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O",
                          "đ": "d", "Đ": "D", "ł": "l", "Ł": "L", "þ": "th", "Þ": "TH", "ð": "d", "Ð": "D",
                          "ı": "i", "ħ": "h", "Ħ": "H", "ŧ": "t", "Ŧ": "T"})


def fold(text: str | None) -> str | None:
    """Lower case without accents: "Müller & Søn" -> "muller & son" (SQLite's portal_fold)."""
    if text is None:
        return None
    decomposed = unicodedata.normalize("NFKD", text.translate(_SPECIAL))
    return "".join(char for char in decomposed if not unicodedata.combining(char)).lower()


def account_search_text(name: str | None, reference: str | None) -> str:
    """SQLite's portal_account_search: what a search looks in."""
    return fold(f"{name or ''} {reference or ''}")


class AccountSearchText(Func):
    """portal_account_search(debtor_name, client_reference): the text the index holds."""

    function = "portal_account_search"
    output_field = TextField()

    def __init__(self):
        super().__init__(F("debtor_name"), F("client_reference"))


class Fold(Func):
    function = "portal_fold"
    output_field = TextField()


_RUN = re.compile(rf"[^\W_]{{{MIN_SUBSTRING},}}")


def searchable(query: str) -> bool:
    """Whether `query` has MIN_SUBSTRING letters or digits in a row: enough to look inside names
    and references with the index."""
    return bool(_RUN.search(fold(query)))


def uses_side_table() -> bool:
    """Whether searches go through AccountSearchEntry (PostgreSQL, where triggers keep it)."""
    return connection.vendor == "postgresql"


def account_search(query: str, client_ids=None) -> Q:
    """A DebtorAccount filter: accounts whose reference or debtor name contains `query` (case
    and accents ignored), through the side table's index on PostgreSQL; a query too short for
    that matches a whole reference, among `client_ids` when given (each client's (client,
    reference) index then answers it)."""
    query = query.strip()
    if searchable(query):
        text = F("search_entry__search_text") if uses_side_table() else AccountSearchText()
        return Q(Contains(text, Fold(Value(query))))
    exact = Q(client_reference=query)
    return exact & Q(client_id__in=client_ids) if client_ids is not None else exact


def entry_search(query: str) -> Q:
    """An AccountSearchEntry filter: the entries whose folded text contains `query` (PostgreSQL)."""
    return Q(Contains(F("search_text"), Fold(Value(query.strip()))))


# --- SQLite: the two functions in Python ------------------------------------------------------

def register_sqlite_functions(sender, connection, **kwargs):
    """connection_created: give SQLite the folding functions PostgreSQL gets from migration 0010."""
    if connection.vendor == "sqlite":
        connection.connection.create_function("portal_fold", 1, fold, deterministic=True)
        connection.connection.create_function("portal_account_search", 2, account_search_text, deterministic=True)
