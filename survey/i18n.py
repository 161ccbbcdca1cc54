"""One way to translate the interface: every string shown to people, outside the questionnaire's
own questions (``questionnaire.Text``), is looked up by key in the catalogue files
``survey/messages/*.toml`` (French and English side by side), and numbers, percents and dates
are written the way each locale writes them (Babel's CLDR data)."""

from __future__ import annotations

import datetime as dt
import math
import string
import tomllib
from decimal import Decimal
from functools import cache
from importlib import resources

from babel.dates import format_date
from babel.numbers import format_decimal

LOCALES = ("fr", "en")
DEFAULT_LOCALE = "fr"
_BABEL_LOCALE = {"fr": "fr_FR", "en": "en_GB"}
MINUS = "\u2212"  # typographic minus sign, as French and English print it
NARROW_SPACE = "\u202f"  # French thousands separator and space before %, CLDR's choice


class MissingMessage(KeyError):
    """A key that the catalogue does not hold (a typo, or a string not yet translated)."""


def _flatten(table: dict, prefix: str, out: dict, origin: str) -> None:
    for name, value in table.items():
        key = f"{prefix}{name}"
        if not isinstance(value, dict):
            raise ValueError(f"{origin}: `{key}` must be a table with fr and en texts.")
        if set(value) & set(LOCALES) or not value:
            if key in out:
                raise ValueError(f"{origin}: `{key}` is defined twice.")
            out[key] = dict(value)
        else:
            _flatten(value, f"{key}.", out, origin)


@cache
def catalogue() -> dict[str, dict[str, str]]:
    """Every message, ``{key: {"fr": ..., "en": ...}}``, from all catalogue files."""
    out: dict[str, dict[str, str]] = {}
    folder = resources.files("survey") / "messages"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            _flatten(tomllib.loads(entry.read_text(encoding="utf-8")), "", out, entry.name)
    return out


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def catalogue_problems() -> list[str]:
    """What is wrong with the catalogue: a message missing in a language, empty, in an unknown
    language, or whose placeholders differ between languages. Empty when all is well."""
    problems = []
    for key, texts in catalogue().items():
        for locale in LOCALES:
            if not str(texts.get(locale, "")).strip():
                problems.append(f"{key}: no {locale} text")
        for extra in set(texts) - set(LOCALES):
            problems.append(f"{key}: unknown language {extra!r}")
        placeholders = {locale: _fields(str(texts.get(locale, ""))) for locale in LOCALES}
        if len({frozenset(p) for p in placeholders.values()}) > 1:
            problems.append(f"{key}: placeholders differ {placeholders}")
    return problems


def _locale(locale: str) -> str:
    return locale if locale in LOCALES else DEFAULT_LOCALE


def t(key: str, locale: str, **params) -> str:
    """The message ``key`` in ``locale``, with ``{name}`` placeholders filled from ``params``.

    >>> t("language", "en")
    'Language'
    """
    try:
        template = catalogue()[key][_locale(locale)]
    except KeyError:
        raise MissingMessage(key) from None
    return template.format(**params) if params else template


def pair(key: str) -> tuple[str, str]:
    """``(fr, en)`` of a message, for code that needs both languages at once (charts, exports)."""
    texts = catalogue().get(key)
    if texts is None:
        raise MissingMessage(key)
    return texts["fr"], texts["en"]


def number(value, locale: str, *, digits: int = 0) -> str:
    """``value`` rounded to ``digits`` decimals with the locale's separators.

    >>> number(-20000.5, "fr", digits=1), number(20000, "en")
    ('−20\u202f000,5', '20,000')
    """
    value = float(value)
    if math.isnan(value):
        return "NA"
    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    # the exact binary value, rounded as Python's own formatting rounds it (2.675 -> 2.67)
    text = format_decimal(Decimal(value), format=pattern, locale=_BABEL_LOCALE[_locale(locale)])
    return text.replace("-", MINUS)


def integer(value, locale: str) -> str:
    """A count: ``integer(20000, "fr")`` is ``'20 000'`` (narrow no-break space)."""
    return number(int(value), locale)


def percent(share, locale: str, *, digits: int = 0) -> str:
    """A share in [0, 1] as a percent: ``'91,4 %'`` in French, ``'91.4%'`` in English.

    >>> percent(0.914, "fr", digits=1), percent(0.914, "en", digits=1)
    ('91,4\u202f%', '91.4%')
    """
    share = float(share)
    if math.isnan(share):
        return "NA"
    text = number(100.0 * share, locale, digits=digits)
    return f"{text}{NARROW_SPACE}%" if _locale(locale) == "fr" else f"{text}%"


def date(day: dt.date, locale: str, *, style: str = "short") -> str:
    """A calendar date: ``short`` is 01/03/2024 in French and 2024-03-01 in English (ISO, as the
    form asks it); ``long`` is "1er mars 2024" / "1 March 2024".

    >>> date(dt.date(2024, 3, 1), "fr", style="long"), date(dt.date(2024, 3, 1), "en")
    ('1er mars 2024', '2024-03-01')
    """
    if style not in ("short", "long"):
        raise ValueError("`style` must be 'short' or 'long'.")
    locale = _locale(locale)
    if style == "short":
        return day.strftime("%d/%m/%Y") if locale == "fr" else day.isoformat()
    text = format_date(day, format="d MMMM y", locale=_BABEL_LOCALE[locale])
    if locale == "fr" and day.day == 1:
        text = "1er" + text[1:]
    return text


def plural(count: int, key: str, locale: str, **params) -> str:
    """``key.one`` or ``key.other`` by the locale's rule (French: 0 and 1 are singular), with
    ``{count}`` written by :func:`integer`: "0 réponse", "1 réponse", "2 réponses"; never
    "1 réponses"."""
    locale = _locale(locale)
    one = count in (0, 1) if locale == "fr" else count == 1
    return t(f"{key}.{'one' if one else 'other'}", locale, count=integer(count, locale), **params)
