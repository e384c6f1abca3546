"""The dashboard's languages: gettext catalogues and Babel formatting per locale.

Every string the dashboard shows comes from ``locale/<lang>/LC_MESSAGES/dashboard.po``
(English message ids; Russian, Kazakh and English translations). The catalogues are compiled
with Babel when the server starts (no build step at install): :func:`catalogue` returns the
compiled :class:`babel.support.Translations` for the templates, and :func:`js_messages` the
same messages as a plain mapping for the page's scripts.

Numbers, money and dates are formatted with Babel's CLDR data: ``ru`` and ``kk`` use the
``ru_KZ`` and ``kk_KZ`` locales (tenge as ``1 234 567,50 ₸``, compact ``2 млрд``); English uses
``en`` with the tenge sign ``₸`` before the amount (``₸1,234,567.50``), since CLDR's English
symbol for KZT is the code. Times are shown in the city's zone.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from babel import Locale
from babel.dates import (
    format_datetime,
    format_skeleton,
    get_date_format,
    get_datetime_format,
    get_month_names,
    get_period_names,
    get_time_format,
    get_timezone,
)
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_compact_decimal, format_currency, format_decimal
from babel.support import Translations

#: The dashboard's languages, the default first.
LANGUAGES: tuple[str, ...] = ("ru", "kk", "en")
DEFAULT_LANGUAGE = "ru"
#: Each language's name in itself (shown in the language switcher).
AUTONYMS = {"ru": "Русский", "kk": "Қазақша", "en": "English"}
#: The Babel locale of each language.
LOCALES = {"ru": "ru_KZ", "kk": "kk_KZ", "en": "en"}
#: The tenge sign, for English, whose CLDR symbol for KZT is the code.
TENGE = "₸"
DOMAIN = "dashboard"


def language(value: str | None) -> str:
    """``value`` when it is one of :data:`LANGUAGES`, else the default (Russian)."""
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


def _po_text(lang: str) -> str:
    base = resources.files("qala.dashboard") / "locale" / lang / "LC_MESSAGES"
    return (base / f"{DOMAIN}.po").read_text(encoding="utf-8")


@cache
def _compiled(lang: str) -> tuple[Translations, dict[str, str]]:
    catalog = read_po(io.StringIO(_po_text(lang)), locale=LOCALES[lang], domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    messages = {
        str(message.id): str(message.string or message.id)
        for message in catalog
        if message.id and isinstance(message.id, str)
    }
    return Translations(fp=buffer, domain=DOMAIN), messages


def catalogue(lang: str) -> Translations:
    """The compiled gettext catalogue of ``lang``."""
    return _compiled(language(lang))[0]


def js_messages(lang: str) -> dict[str, str]:
    """Every message of ``lang``'s catalogue, by its English id, for the page's scripts."""
    return dict(_compiled(language(lang))[1])


def message_ids() -> set[str]:
    """The message ids of the catalogues (the English texts)."""
    return set(_compiled(DEFAULT_LANGUAGE)[1])


def gettext(lang: str, message: str) -> str:
    return catalogue(lang).gettext(message)


def format_number(value: int | float | Decimal, lang: str) -> str:
    return format_decimal(value, locale=LOCALES[language(lang)])


def format_money(amount: Decimal, lang: str, *, compact: bool = False) -> str:
    """An amount of tenge: ``1 234 567,50 ₸`` (ru, kk), ``₸1,234,567.50`` (en); compact:
    ``2 млрд ₸``, ``₸2B``."""
    if not isinstance(amount, Decimal):
        raise TypeError("money is a Decimal amount of KZT")
    lang = language(lang)
    locale = LOCALES[lang]
    if compact:
        text = format_compact_decimal(amount, locale=locale, fraction_digits=1)
        return f"{TENGE}{text}" if lang == "en" else f"{text}\xa0{TENGE}"
    if lang == "en":
        return TENGE + format_decimal(amount, format="#,##0.00", locale=locale)
    return format_currency(amount, "KZT", locale=locale)


def format_compact(value: int | float | Decimal, lang: str) -> str:
    """A large number in words: ``2 млрд``, ``2 млрд`` (kk), ``2B``."""
    return format_compact_decimal(value, locale=LOCALES[language(lang)], fraction_digits=1)


def format_time(moment: datetime, lang: str, zone: str) -> str:
    """``moment`` (timezone-aware) in the city's zone, in the language's medium format."""
    return format_datetime(
        moment, "medium", tzinfo=get_timezone(zone), locale=LOCALES[language(lang)]
    )


@cache
def number_symbols(lang: str) -> dict[str, Any]:
    """What the page's scripts need to format numbers as Babel does: the decimal and group
    signs, the locale tag for dates (``Intl.DateTimeFormat`` with the city's zone), and the
    compact words for thousands, millions and billions."""
    lang = language(lang)
    locale = Locale.parse(LOCALES[lang])
    symbols = locale.number_symbols["latn"]
    return {
        "tag": LOCALES[lang].replace("_", "-"),
        "decimal": symbols["decimal"],
        "group": symbols["group"],
        # CLDR's minimum grouping digits: ru and kk write 1234 without a group sign
        "minimumGrouping": 1 if symbols["group"] in format_number(1234, lang) else 2,
        "compact": {
            str(10**power): format_compact(10**power, lang).replace("1", "{n}", 1)
            for power in (3, 6, 9)
        },
        "tenge": format_money(Decimal("1"), lang).replace("1.00", "{n}").replace("1,00", "{n}"),
        **month_names(lang),
    }


def month_names(lang: str) -> dict[str, Any]:
    """The months' abbreviated names (stand-alone) and how a month of a year is written, with
    ``{month}`` and ``{year}``: ``март 2026 г.``, ``2026 ж. нау.``, ``Mar 2026``; and CLDR's
    patterns of an instant (medium date, short time). From Babel, since a browser's own data
    may lack a language (Chromium writes Kazakh months as ``M01``)."""
    locale = LOCALES[language(lang)]
    names = get_month_names("abbreviated", context="stand-alone", locale=locale)
    march = format_skeleton("yMMM", date(2026, 3, 1), locale=locale)
    pattern = march.replace("2026", "{year}").replace(names[3], "{month}", 1)
    if "{month}" not in pattern:  # the format's own name of March differs from the stand-alone
        pattern = "{month} {year}"
    formats = get_month_names("abbreviated", context="format", locale=locale)
    periods = get_period_names("abbreviated", locale=locale)
    return {
        "months": [names[m] for m in range(1, 13)],
        "monthYear": pattern,
        # an instant as Babel writes it (the scripts fill CLDR's patterns themselves)
        "dateTime": {
            "date": get_date_format("medium", locale=locale).pattern,
            "time": get_time_format("short", locale=locale).pattern,
            "join": get_datetime_format("medium", locale=locale),
            "months": [formats[m] for m in range(1, 13)],
            "am": periods.get("am", "AM"),
            "pm": periods.get("pm", "PM"),
        },
    }


#: Where the dashboard's messages are (Babel extraction methods by file pattern): templates
#: (``_()``), scripts (``t()`` and the ``N_()`` marker of tables) and the routes (``N_()``).
EXTRACTION = [
    ("templates/**.html", "jinja2.ext:babel_extract"),
    ("static/js/**.js", "javascript"),
    ("routes.py", "python"),
]
KEYWORDS = {"_": None, "gettext": None, "t": None, "N_": None}


def extract_messages() -> dict[str, list[str]]:
    """Every message the templates and scripts use, with where (``file:line``): what the
    catalogues must translate (``tools/dashboard-messages.py`` writes them into the .po)."""
    from babel.messages.extract import extract_from_dir

    found: dict[str, list[str]] = {}
    root = str(resources.files("qala.dashboard"))
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    for filename, line, message, _comments, _context in extract_from_dir(
        root, EXTRACTION, keywords=KEYWORDS, options_map=options
    ):
        if isinstance(message, str) and message:
            found.setdefault(message, []).append(f"{filename}:{line}")
    return found
