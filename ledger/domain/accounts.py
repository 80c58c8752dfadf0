"""Accounts, sides and balances: the debit/credit rules every posting obeys.

A balance keeps four monotonic counters per (account, instrument): posted and pending debits and
credits. The balance on the account's normal side is `normal − opposite`. An account flagged
`non_negative` may never let that figure, after pending amounts against it, drop below zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from ledger.domain.amounts import AmountText, raw_units
from ledger.domain.errors import (
    AccountClosed,
    AccountFrozen,
    BalanceOverflow,
    InstrumentMismatch,
    InsufficientBalance,
)
from ledger.domain.limits import UNITS_MAX


class Side(Enum):
    """Direction of a posting; amounts are always positive (no signed amounts)."""

    DEBIT = "debit"
    CREDIT = "credit"

    @property
    def opposite(self) -> Side:
        return Side.CREDIT if self is Side.DEBIT else Side.DEBIT


@dataclass(frozen=True, slots=True)
class Account:
    """An account owned by a party. Normal side and `non_negative` are fixed at opening."""

    id: int
    code: str
    party: str
    name: str
    normal_side: Side
    non_negative: bool
    instrument_code: str | None  # when set, the only instrument the account may hold
    frozen: bool
    closed: bool

    def check_can_post(self, side: Side, instrument_code: str) -> None:
        """Account-level rules, in their documented order: closed, frozen, instrument."""
        if self.closed:
            raise AccountClosed(
                f"account {self.code} is closed", field="account", account=self.code
            )
        if self.frozen and side is Side.DEBIT:
            raise AccountFrozen(
                f"account {self.code} is frozen: it accepts no debits",
                field="account",
                account=self.code,
            )
        if self.instrument_code is not None and instrument_code != self.instrument_code:
            raise InstrumentMismatch(
                f"account {self.code} holds only {self.instrument_code}, not {instrument_code}",
                field="instrument",
                account=self.code,
            )


# The counter a posting adds to, by (is a debit, is pending): names built once, not per posting.
_COUNTER = {
    (True, False): "debits_posted",
    (False, False): "credits_posted",
    (True, True): "debits_pending",
    (False, True): "credits_pending",
}


@dataclass(slots=True)
class Balance:
    """Materialized counters of one (account, instrument); mutated only inside a locked booking."""

    account_id: int
    instrument_code: str
    normal_side: Side
    non_negative: bool
    debits_posted: int = 0
    credits_posted: int = 0
    debits_pending: int = 0
    credits_pending: int = 0
    version: int = 0
    updated_at: datetime | None = None  # recorded time of the last change; None for a new row

    @property
    def posted(self) -> int:
        """Posted balance on the normal side (may be negative unless `non_negative`)."""
        if self.normal_side is Side.DEBIT:
            return self.debits_posted - self.credits_posted
        return self.credits_posted - self.debits_posted

    @property
    def available(self) -> int:
        """Posted balance less what pending entries may still take away (pessimistic)."""
        if self.normal_side is Side.DEBIT:
            return self.posted - self.credits_pending
        return self.posted - self.debits_pending

    def add(self, side: Side, units: int, *, pending: bool, text: AmountText = raw_units) -> None:
        """Add a posting to the posted or pending counter of its side."""
        name = _COUNTER[side is Side.DEBIT, pending]
        value = getattr(self, name) + units
        if value > UNITS_MAX:
            raise BalanceOverflow(
                f"the {name.replace('_', ' ')} counter would exceed the largest storable "
                f"amount, {text(self.instrument_code, UNITS_MAX)}",
                field="amount",
            )
        setattr(self, name, value)

    def release_pending(self, side: Side, units: int) -> None:
        """Take a resolved pending amount out of the pending counter."""
        name = f"{side.value}s_pending"
        value = getattr(self, name) - units
        assert value >= 0, (self, side, units)
        setattr(self, name, value)

    def check_limit(self, account_code: str, text: AmountText = raw_units) -> None:
        """Refuse the change if a non-negative account would go below zero."""
        if self.non_negative and self.available < 0:
            raise InsufficientBalance(
                f"account {account_code} would go negative "
                f"(short by {text(self.instrument_code, -self.available)})",
                field="postings",
                account=account_code,
                instrument=self.instrument_code,
            )
