"""Penalties for emission-rights non-compliance (rules §4, §7.10): the record a regulator books
against a finding of a verified report, its payments, and the statutory range; and the payments
of a carbon obligation's shortfall penalty (rules §5), which are the same kind of payment.

Pure: no I/O. A penalty is a receivable: the enterprise's `penalties` account (debit-normal)
against the province's revenue, paid from the enterprise's cash through the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ledger.domain.errors import InvalidField, Kind, LedgerError

# The Air Pollution Law's range for a rights penalty, CNY 100,000–1,000,000 (in fen).
RIGHTS_PENALTY_MIN_FEN = 100_000_00
RIGHTS_PENALTY_MAX_FEN = 1_000_000_00


class NotNonCompliant(
    LedgerError,
    code="no_non_compliance",
    kind=Kind.UNPROCESSABLE,
    title="The report shows no non-compliance for this pollutant",
):
    """A rights penalty names a pollutant of a verified report whose emissions stayed within the
    rights held (pledged included) and had no hourly exceedance: there is no finding to
    penalise."""


class PaymentExceedsOwed(
    LedgerError,
    code="payment_exceeds_owed",
    kind=Kind.UNPROCESSABLE,
    title="A payment may not exceed what the penalty still owes",
):
    """A payment of a penalty would take what was paid above the penalty's amount."""


class NoPenaltyOwed(
    LedgerError,
    code="no_penalty_owed",
    kind=Kind.CONFLICT,
    title="The obligation has no penalty to pay",
):
    """A payment names a carbon obligation whose deadline has not been closed yet, or was closed
    without a shortfall: no penalty was booked, so there is nothing to pay (yet)."""


@dataclass(frozen=True, slots=True)
class RightsPenalty:
    """A penalty booked against an enterprise for a finding of a verified report: emissions of
    `pollutant` above its confirmed right, or hourly exceedances (`findings`)."""

    id: str
    party_code: str
    report_id: str
    pollutant: str
    amount_fen: int
    findings: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True, slots=True)
class PenaltyPayment:
    """Cash paid by the enterprise against a penalty: a rights penalty (`penalty_id` is its id,
    its journal entry `penalty-payment-{id}`) or an obligation's shortfall penalty (`penalty_id`
    is the obligation's id, its entry `obligation-penalty-payment-{id}`)."""

    id: str
    penalty_id: str
    amount_fen: int


@dataclass(frozen=True, slots=True)
class PenaltyStatus:
    """A penalty with what was paid of it."""

    penalty: RightsPenalty
    paid_fen: int

    @property
    def outstanding_fen(self) -> int:
        return self.penalty.amount_fen - self.paid_fen


def check_penalty_amount(amount_fen: int) -> None:
    """A rights penalty lies in the statutory range (rules §4: CNY 100,000–1,000,000)."""
    if not RIGHTS_PENALTY_MIN_FEN <= amount_fen <= RIGHTS_PENALTY_MAX_FEN:
        raise InvalidField(
            "a rights penalty is between 100000.00 and 1000000.00 CNY", field="amount_cny"
        )


def check_payment(owed: str, outstanding_fen: int, amount_fen: int) -> None:
    """A payment is positive and at most what the penalty (`owed` names it) still owes."""
    if amount_fen <= 0:
        raise InvalidField("a payment is positive", field="amount_cny")
    if amount_fen > outstanding_fen:
        raise PaymentExceedsOwed(
            f"{owed} still owes {Decimal(outstanding_fen).scaleb(-2)} CNY", field="amount_cny"
        )
