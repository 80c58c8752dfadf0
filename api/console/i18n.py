"""The console's two languages: Chinese (the default) and English, from Babel message catalogs.

Templates and pages are written in English (the msgids); `locale/zh/LC_MESSAGES/messages.po`
holds the Chinese. The catalog is compiled when this module is imported (Babel's own compiler,
in memory), so no compiled `.mo` file is kept in the repository and none can be stale; a test
checks that every message of the templates and pages has its Chinese.

Amounts are shown in their unit with the instrument's places (t to the kg, scale 3; tCO2 whole);
CNY as `moneyed.Money` formatted for the reader's locale (py-moneyed, which uses Babel): the same
Money values the API returns. Instants are shown in China Standard Time (UTC+8, no daylight
saving time: a fixed offset is exact).
"""

from __future__ import annotations

import gettext
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from functools import cache
from importlib import resources
from io import BytesIO

from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations
from moneyed import Money
from moneyed.l10n import format_money

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
BABEL_LOCALE = {"zh": "zh_Hans_CN", "en": "en_US"}
CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")
CATALOG = "locale/{language}/LC_MESSAGES/messages.po"


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalog of `language` (English: the msgids themselves)."""
    if language == "en":
        return gettext.NullTranslations()
    source = resources.files("api.console").joinpath(CATALOG.format(language=language))
    with source.open("rb") as po:
        catalog = read_po(po, locale=BABEL_LOCALE[language])
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def N_(message: str) -> str:  # noqa: N802 - gettext's name for "translated later"
    """Mark a message for the catalog; it is translated where it is shown."""
    return message


# Names the pages show translated: roles, and the states of records.
SHOWN_NAMES = (
    N_("regulator"),
    N_("city_authority"),
    N_("enterprise"),
    N_("verifier"),
    N_("finance"),
    N_("administrator"),
    N_("proposed"),
    N_("accepted"),
    N_("settled"),
    N_("declined"),
    N_("rescinded"),
    N_("refused"),
    N_("expired"),
    N_("pending"),
    N_("applied"),
    N_("rejected"),
    N_("draft"),
    N_("submitted"),
    N_("verified"),
    N_("superseded"),
    N_("invalidated"),
    N_("open"),
    N_("closed"),
    N_("reopened"),
    N_("confirmed"),
    N_("bank"),
    N_("exchange"),
    N_("debit"),
    N_("credit"),
    N_("reports"),
    N_("monitoring"),
    N_("reserve_sale"),
    N_("buy_back"),
    N_("reclaim"),
    N_("confiscation"),
    N_("cancellation"),
    N_("no_networked_cems"),
    N_("cems_tampered"),
    N_("illegal_discharge"),
    N_("false_return"),
    N_("sold"),
    N_("unsold"),
    N_("withdrawn"),
    N_("fixed_price"),
    N_("auction"),
    N_("won"),
)


def language_of(requested: str | None) -> str:
    return requested if requested in LANGUAGES else DEFAULT_LANGUAGE


def amount(value: Decimal | int, language: str, places: int | None = None) -> str:
    """A quantity grouped for the reader's locale, with `places` decimals (by default the
    places it carries: an instrument's amount has its scale's, t to the kg)."""
    value = Decimal(value)
    if places is None:
        exponent = value.as_tuple().exponent
        places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    pattern = "#,##0" + ("." + "0" * places if places else "")
    return format_decimal(value, format=pattern, locale=BABEL_LOCALE[language])


def money(value: Money | Decimal, language: str) -> str:
    """CNY to the fen, in the reader's locale (Babel's: "¥1,234.50" in Chinese, "CN¥1,234.50" in
    English)."""
    sum_ = value if isinstance(value, Money) else Money(value, "CNY")
    return str(format_money(sum_, locale=BABEL_LOCALE[language]))


def instant(value: datetime | None, language: str) -> str:
    """An instant in China Standard Time, minutes shown, the zone named."""
    if value is None:
        return ""
    local = value.astimezone(CHINA_STANDARD_TIME)
    return f"{format_datetime(local, 'yyyy-MM-dd HH:mm', locale=BABEL_LOCALE[language])} CST"


def day(value: date | None, language: str) -> str:
    return "" if value is None else format_date(value, "yyyy-MM-dd", locale=BABEL_LOCALE[language])


def gettext_of(language: str) -> Callable[[str], str]:
    return translations(language).gettext
