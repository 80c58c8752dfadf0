"""What the ledger accepts from a client, whoever it is (API, command line, imported files):
text it can store, and dates and instants within the documented range (`limits.DATE_MIN` to
`limits.DATE_MAX`).

Text: PostgreSQL's text cannot hold U+0000, and a lone surrogate (U+D800–U+DFFF, which a JSON
`\\ud800` escape produces) has no UTF-8 form at all: either would reach the database and fail
there. Every text a client sends — query, path, body, metadata, imported files — is checked
against `unstorable` before it is used; what cannot be refused (the path of a request an audit
line records) is stored `escaped`.

Dates: every date and instant a client gives lies between 2000-01-01 and 2100-12-31, so that the
arithmetic around it (the next Beijing midnight, a matching window of a few days, a month's end)
stays within what Python and both databases represent, and instants are stored in one form.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from ledger.domain.errors import InvalidField, Kind, LedgerError
from ledger.domain.limits import BIGINT_MAX, DATE_MAX, DATE_MIN, INSTANT_END, INSTANT_MIN


class TextNotStorable(
    LedgerError,
    code="text_not_storable",
    kind=Kind.INVALID,
    title="Text holds a character the ledger cannot store",
):
    """A text holds the NUL character or an unpaired surrogate (`field` names it)."""


class DateOutOfRange(
    LedgerError,
    code="date_out_of_range",
    kind=Kind.INVALID,
    title="A date or instant is outside 2000-01-01 to 2100-12-31",
):
    """A date or instant lies outside the range the ledger accepts (`field` names it)."""


def unstorable(text: str) -> str | None:
    """Why `text` cannot be stored, or None if it can."""
    if "\x00" in text:
        return "holds the NUL character (U+0000)"
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "holds an unpaired surrogate (U+D800 to U+DFFF)"
    return None


def is_digits(text: str) -> bool:
    """Whether `text` is one or more of the ASCII digits 0-9. `str.isdigit` alone also accepts
    other scripts' digits and superscripts ('²', '٢'), some of which `int` refuses with a
    ValueError: every number the ledger reads from text is written in ASCII digits."""
    return text.isascii() and text.isdigit()


def check_text(text: str, field: str) -> str:
    """`text`, or `TextNotStorable` naming `field`."""
    why = unstorable(text)
    if why is not None:
        raise TextNotStorable(f"{field} {why}", field=field)
    return text


def first_unstorable(value: Any, path: str = "") -> tuple[str, str] | None:
    """The path (`lines[2].memo`, `metadata.note`) of the first text in a JSON-like value that
    cannot be stored, and why; keys are checked as well as values."""
    if isinstance(value, str):
        why = unstorable(value)
        return None if why is None else (path or "body", why)
    if isinstance(value, Mapping):
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            why = unstorable(str(key))
            if why is not None:
                return name, f"is a key that {why}"
            found = first_unstorable(item, name)
            if found is not None:
                return found
        return None
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        for index, item in enumerate(value):
            found = first_unstorable(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def escaped(text: str) -> str:
    """`text` with NUL and unpaired surrogates written as escapes (`\\x00`, `\\ud800`), so a
    record of what a client sent can always be stored."""
    if unstorable(text) is None:
        return text
    return "".join(
        f"\\x{ord(char):02x}"
        if char == "\x00"
        else f"\\u{ord(char):04x}"
        if 0xD800 <= ord(char) <= 0xDFFF
        else char
        for char in text
    )


def check_date(day: date, field: str) -> date:
    """`day`, or `DateOutOfRange` naming `field`."""
    if not DATE_MIN <= day <= DATE_MAX:
        raise DateOutOfRange(
            f"{field} {day.isoformat()} is outside {DATE_MIN} to {DATE_MAX}", field=field
        )
    return day


def check_instant(moment: datetime, field: str) -> datetime:
    """`moment` (timezone-aware), or `DateOutOfRange` naming `field`."""
    if moment.tzinfo is None:
        raise DateOutOfRange(f"{field} needs a timezone", field=field)
    try:
        inside = INSTANT_MIN <= moment < INSTANT_END
    except OverflowError:  # a local time that is no instant Python can represent in UTC
        inside = False
    if not inside:
        raise DateOutOfRange(
            f"{field} {moment.isoformat()} is outside {DATE_MIN} to {DATE_MAX} (UTC)", field=field
        )
    return moment


def first_oversized(value: Any, path: str = "") -> str | None:
    """The path of the first integer in a JSON-like value that no BIGINT column can hold."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (path or "body") if not -BIGINT_MAX - 1 <= value <= BIGINT_MAX else None
    if isinstance(value, Mapping):
        items: Any = ((f"{path}.{key}" if path else str(key), item) for key, item in value.items())
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes | bytearray):
        items = ((f"{path}[{index}]", item) for index, item in enumerate(value))
    else:
        return None
    for name, item in items:
        found = first_oversized(item, name)
        if found is not None:
            return found
    return None


def check_year(year: int, field: str) -> int:
    """`year` (a compliance or tax year), or `InvalidField` naming `field`."""
    if not DATE_MIN.year <= year <= DATE_MAX.year:
        raise InvalidField(
            f"{field} {year} is not a year from {DATE_MIN.year} to {DATE_MAX.year}", field=field
        )
    return year


def parse_month(text: str, field: str) -> date:
    """'2025-03' -> 2025-03-01, within the range; `InvalidField` or `DateOutOfRange` naming
    `field` otherwise."""
    year, dash, month = text.partition("-")
    if not (dash and len(year) == 4 and len(month) == 2 and is_digits(year) and is_digits(month)):
        raise InvalidField(f"{field} {text!r} is not a month YYYY-MM", field=field)
    if not 1 <= int(month) <= 12:
        raise InvalidField(f"{field}: no month {month}", field=field)
    if not DATE_MIN.year <= int(year) <= DATE_MAX.year:
        raise DateOutOfRange(
            f"{field} {text} is outside {DATE_MIN:%Y-%m} to {DATE_MAX:%Y-%m}", field=field
        )
    return date(int(year), int(month), 1)
