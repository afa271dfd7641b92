"""How a store writes numbers and money: one table read by the reports (to show amounts) and the POS
import (to read them), so that what a shop's till exports and what its manager reads agree.

A locale is the decimal mark, the thousands separator and where the currency symbol goes. Deliberately
a short list rather than a CLDR library: these are the shapes the imports must also parse, and every
one is tested both ways.
"""

from __future__ import annotations

from dataclasses import dataclass

NBSP, NNBSP = "\u00a0", "\u202f"


@dataclass(frozen=True)
class Locale:
    decimal: str  # the decimal mark
    group: str  # the thousands separator
    symbol_after: bool  # "1.234,50 €" rather than "€1,234.50"


LOCALES: dict[str, Locale] = {
    "en": Locale(".", ",", symbol_after=False),  # 1,234.50 (UK, US, Ireland, ...)
    "zh": Locale(".", ",", symbol_after=False),  # 1,234.50 (China)
    "ja": Locale(".", ",", symbol_after=False),
    "de": Locale(",", ".", symbol_after=True),  # 1.234,50 (Germany, Austria, Netherlands, Italy, Spain)
    "fr": Locale(",", NNBSP, symbol_after=True),  # 1 234,50 (France, Belgium)
    "cs": Locale(",", NBSP, symbol_after=True),  # 1 234,50 (Czechia, Slovakia, Poland, Nordics)
    "ch": Locale(".", "'", symbol_after=False),  # 1'234.50 (Switzerland)
}
SYMBOLS: dict[str, str] = {
    "EUR": "€", "USD": "$", "GBP": "£", "CNY": "¥", "JPY": "¥", "CZK": "Kč", "PLN": "zł", "CHF": "CHF",
    "SEK": "kr", "NOK": "kr", "DKK": "kr", "HUF": "Ft", "CAD": "$", "AUD": "$",
}
# What the POS import strips from an amount: every symbol above, ISO codes, and the other ways tills
# write them (full-width yen, 元, RMB).
CURRENCY_MARKS: tuple[str, ...] = tuple(sorted(
    {*SYMBOLS.values(), *SYMBOLS, "￥", "元", "RMB", "US$", "€", "£", "$"}, key=len, reverse=True))


def locale(name: str) -> Locale:
    """The locale called `name` (ValueError naming the known ones)."""
    try:
        return LOCALES[name]
    except KeyError:
        raise ValueError(f"locale {name!r} is not one of {', '.join(LOCALES)}") from None


def number(value: float, loc: Locale, decimals: int = 0) -> str:
    """1234.5 -> '1,235' (en, 0 decimals), '1.234,50' (de, 2)."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\0").replace(".", loc.decimal).replace("\0", loc.group)


def money(cents: float, loc: Locale, currency: str = "") -> str:
    """Cents as an amount with the currency's symbol where the locale puts it: -123456 -> '-€1,234.56'
    (en, EUR), '-1.234,56 €' (de); without a currency, the amount alone."""
    amount = number(abs(cents) / 100, loc, 2)
    sign = "-" if round(cents) < 0 else ""
    if not currency:
        return sign + amount
    symbol = SYMBOLS.get(currency, currency)
    if loc.symbol_after:
        return f"{sign}{amount}{NBSP}{symbol}"
    return f"{sign}{symbol}{amount}" if len(symbol) == 1 else f"{sign}{symbol}{NBSP}{amount}"
