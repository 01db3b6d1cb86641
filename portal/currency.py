"""Currencies: ISO 4217 codes, their names and the symbols they are written with.

From the Unicode CLDR data in babel (no hand-written table): which currencies some territory
uses today, their English names, and their symbols in English and in their home territory's main
locale ("$", "US$", "CA$", "R$", "₹", "¥", "CHF"). Used by the amount parsers (a cell's "€"
must agree with the placement's currency) and by the forms that choose a currency.
"""
import functools

DEFAULT_CURRENCY = "USD"
COMMON = ("USD", "CAD", "EUR", "GBP", "AUD", "CHF", "JPY", "MXN", "INR", "BRL", "CNY")  # listed first


def by_use(codes) -> list[str]:
    """`codes` with the common currencies first (in COMMON's order), then the rest alphabetically."""
    return sorted(codes, key=lambda code: (COMMON.index(code) if code in COMMON else len(COMMON), code))


@functools.cache
def currencies_in_use() -> tuple[str, ...]:
    """The ISO 4217 codes some territory uses today, sorted (about 150; no historical ones)."""
    from babel.core import get_global
    from babel.numbers import get_territory_currencies

    codes = set()
    for territory in get_global("territory_currencies"):
        codes.update(get_territory_currencies(territory))
    return tuple(sorted(codes))


def currency_choices() -> list[tuple[str, str]]:
    """(code, "EUR — Euro") for forms: the usual few first, then every other code in use."""
    from babel.numbers import get_currency_name

    codes = list(COMMON) + [code for code in currencies_in_use() if code not in COMMON]
    return [(code, f"{code} — {get_currency_name(code, locale='en')}") for code in codes]


def is_currency(code: str) -> bool:
    return code in _all_codes()


@functools.cache
def _all_codes() -> frozenset:
    from babel.numbers import list_currencies

    return frozenset(list_currencies())


@functools.cache
def _symbols_of(code: str) -> frozenset:
    """The symbols `code` is written with: its code, its English symbol ("US$"? no: "$", "CA$",
    "R$") and the symbol in its home territory's main locale (the code's first two letters:
    "$" in Canada for CAD, "¥" in China for CNY). Two locales, not all: the fast path asks this
    for the placement's currency."""
    from babel import Locale, UnknownLocaleError

    symbols = {code, Locale.parse("en").currency_symbols.get(code, code)}
    try:
        symbols.add(Locale.parse(f"und_{code[:2]}").currency_symbols.get(code, code))
    except (UnknownLocaleError, ValueError, LookupError):
        pass
    if code == "USD":
        symbols.add("US$")  # how the rest of the Americas and Asia write it (CLDR: en_CA, es_419...)
    return frozenset(symbols)


@functools.cache
def _symbols() -> dict[str, frozenset]:
    """symbol -> the currencies written with it (every currency in use: loads ~250 locales once)."""
    found: dict[str, set] = {}
    for code in currencies_in_use():
        for symbol in _symbols_of(code):
            found.setdefault(symbol, set()).add(code)
    return {symbol: frozenset(codes) for symbol, codes in found.items()}


def currencies_named_by(marker: str) -> frozenset:
    """The currencies a marker next to an amount may name: an ISO code ("EUR", "eur") or a symbol
    ("€", "US$", "¥": JPY or CNY, "$": USD, CAD, AUD...). Empty for a marker that names none."""
    text = marker.strip()
    if text.upper() in _all_codes():
        return frozenset({text.upper()})
    symbols = _symbols()
    if text in symbols:
        return symbols[text]
    if text.endswith(".") and text[:-1] in symbols:  # "Fr." style abbreviations
        return symbols[text[:-1]]
    return frozenset()


def uses_symbol(currency: str, symbol: str) -> bool:
    """Whether `symbol` may stand for `currency` ("$" for USD or CAD, "€" for EUR)."""
    return symbol in _symbols_of(currency)
