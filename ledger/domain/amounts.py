"""Instruments and exact amounts: integers of the smallest unit in storage, Decimal at the edges.

An amount on the wire is a decimal string in the instrument's unit ("30.000" t of SO2-2026,
"12.30" CNY). It converts to integer units only if it is no finer than the instrument's scale:
nothing here ever rounds, and nothing is ever a float.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, Context, Decimal, Inexact, InvalidOperation, Rounded, localcontext
from enum import Enum

from moneyed import Money

from ledger.domain.errors import AmountNotPositive, AmountTooLarge, AmountTooPrecise, InvalidField
from ledger.domain.limits import SCALE_MAX, UNITS_MAX

_PLAIN_DECIMAL = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?", flags=re.ASCII)
# Wide enough for any storable amount at any scale; traps make rounding impossible, not silent.
_EXACT = Context(prec=60, traps=[Inexact, Rounded, InvalidOperation])


class InstrumentKind(Enum):
    """What an instrument is; cash converts to and from py-moneyed `Money`."""

    CASH = "cash"
    EMISSION_RIGHT = "emission_right"
    CARBON_ALLOWANCE = "carbon_allowance"
    OFFSET = "offset"


@dataclass(frozen=True, slots=True)
class Instrument:
    """What an account holds: CNY, SO2-2026 (t, scale 3), CEA-2025 (tCO2, scale 0), …

    The scale is fixed when the instrument is registered: units = amount × 10**scale.
    """

    code: str
    name: str
    kind: InstrumentKind
    unit: str
    scale: int

    def __post_init__(self) -> None:
        if not 0 <= self.scale <= SCALE_MAX:
            raise InvalidField(
                f"scale must be between 0 and {SCALE_MAX}, got {self.scale}", field="scale"
            )
        if self.kind is InstrumentKind.CASH and self.scale != 2:
            raise InvalidField("cash instruments have scale 2 (fen)", field="scale")

    def to_units(self, amount: Decimal, *, field: str = "amount") -> int:
        """Exact conversion of a positive amount to integer units; refuses anything finer."""
        return to_units(amount, self.scale, field=field)

    def to_amount(self, units: int) -> Decimal:
        """The amount that `units` stands for, exact, with the instrument's number of places."""
        return Decimal(units).scaleb(-self.scale)

    def format(self, units: int) -> str:
        """Wire form of an amount: a decimal string with exactly `scale` places."""
        return f"{self.to_amount(units):.{self.scale}f}"

    def to_money(self, units: int) -> Money:
        """Cash units as py-moneyed Money (only for cash instruments)."""
        assert self.kind is InstrumentKind.CASH, self.code
        return Money(self.to_amount(units), self.code)

    def money_to_units(self, money: Money) -> int:
        """Money in this cash instrument's currency to units; refuses other currencies."""
        if money.currency.code != self.code:
            raise InvalidField(
                f"currency {money.currency.code} is not {self.code}", field="currency"
            )
        return self.to_units(money.amount)


def parse_decimal(text: str, *, field: str = "amount") -> Decimal:
    """A wire decimal string to Decimal: ASCII digits, an optional sign and decimal point only.

    Refuses what Python's Decimal would accept but a ledger should not: 'NaN', '1e3', ' 1',
    '1_000', non-ASCII digits.
    """
    if not isinstance(text, str) or len(text) > 40 or not _PLAIN_DECIMAL.fullmatch(text):
        raise InvalidField(f"{text!r} is not a plain decimal string such as '12.30'", field=field)
    return Decimal(text)


def to_units(amount: Decimal, scale: int, *, field: str = "amount") -> int:
    """Exact conversion of a positive decimal amount to integer units of `scale` places."""
    if not amount.is_finite():
        raise InvalidField(f"{field} must be a finite number, got {amount}", field=field)
    if amount <= 0:
        raise AmountNotPositive(f"{field} must be positive, got {amount}", field=field)
    with localcontext(_EXACT):  # an inexact step raises instead of silently rounding
        try:
            scaled = amount.scaleb(scale)
        except (Inexact, Rounded):
            raise AmountTooLarge(f"{field} {amount} has too many digits", field=field) from None
    if scaled != scaled.to_integral_value(rounding=ROUND_DOWN):
        raise AmountTooPrecise(
            f"{field} {amount} has more than {scale} decimal places", field=field, scale=scale
        )
    units = int(scaled)
    if units > UNITS_MAX:
        raise AmountTooLarge(f"{field} {amount} is too large to store", field=field)
    return units


AmountText = Callable[[str, int], str]
"""How an error names an amount of an instrument: `text(instrument_code, units)`."""


def amount_text(instruments: Mapping[str, Instrument]) -> AmountText:
    """Amounts in their instrument's unit ("12.345 t", "0.50 CNY"), never raw units."""

    def text(instrument_code: str, units: int) -> str:
        instrument = instruments.get(instrument_code)
        if instrument is None:
            return f"{units} units of {instrument_code}"
        amount = f"{instrument.format(units)} {instrument.unit}"
        return amount if instrument.unit == instrument_code else f"{amount} of {instrument_code}"

    return text


def raw_units(instrument_code: str, units: int) -> str:
    """For callers that hold no instruments (never an API answer: the journal passes them)."""
    return f"{units} units of {instrument_code}"
