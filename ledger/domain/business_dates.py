"""Business dates: the day a business record says it happened is the effective time of its
entries (rules §7.11).

A trade's date, an allocation's, a surrender's, a reserve sale's, a deposit's or a pledge's is a
Beijing calendar day; its entries take effect at the start of that day (Beijing midnight), so
"as of D" (everything effective before the end of the Beijing day D) counts every record dated
D or earlier. The recorded time stays when the ledger wrote the entry. A record sent without a
date happened the day it is written: its entries are effective when recorded.

A business date is refused when it lies in the future (after today in Beijing), when it lies
before the first year of the earliest vintage a trade, reserve sale or surrender moves (rights
of vintage V are not sold or used before V-01-01), or when its day is in a closed accounting
period (checked by the services against the periods). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from ledger.domain.bounds import check_date
from ledger.domain.errors import Kind, LedgerError
from ledger.domain.finance import day_range

FIELD = "business_date"


class BusinessDateInFuture(
    LedgerError,
    code="business_date_in_future",
    kind=Kind.UNPROCESSABLE,
    title="The business date lies in the future",
):
    """A trade, allocation, surrender, sale, deposit or pledge is dated after today (Beijing)."""


class BusinessDateBeforeVintage(
    LedgerError,
    code="business_date_before_vintage",
    kind=Kind.UNPROCESSABLE,
    title="The business date lies before the earliest vintage moved",
):
    """A trade, reserve sale or surrender is dated before January 1 of the earliest vintage it
    moves."""


def effective_instant(day: date) -> datetime:
    """The effective time of a record dated `day`: the start of that Beijing day."""
    return day_range(day, day)[0]


def check_business_date(
    day: date, *, today: date, vintages: Iterable[int | None] = (), field: str = FIELD
) -> datetime:
    """The effective time of a record dated `day`, or the rule it breaks (naming `field`): within
    the documented range, not after `today`, not before the earliest of `vintages` (none for
    issuance, pledges and cash)."""
    check_date(day, field)
    if day > today:
        raise BusinessDateInFuture(
            f"{field} {day.isoformat()} lies after today ({today.isoformat()}, Beijing)",
            field=field,
        )
    check_vintages(day, vintages, field)
    return effective_instant(day)


def check_vintages(day: date, vintages: Iterable[int | None], field: str = FIELD) -> None:
    """`day` is not before January 1 of the earliest vintage a transfer moves."""
    earliest = min((v for v in vintages if v is not None), default=None)
    if earliest is not None and day.year < earliest:
        raise BusinessDateBeforeVintage(
            f"{field} {day.isoformat()} lies before vintage {earliest}, the earliest it moves",
            field=field,
        )
