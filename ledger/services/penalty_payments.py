"""Paying a booked penalty through the ledger, whatever booked it: a rights penalty
(`ledger.services.penalties`, rules §7.10) or a carbon obligation's shortfall penalty
(`ledger.services.compliance`, rules §5). Both are receivables on the enterprise's `penalties`
account, so both are paid alike.

A payment is one `penalty_payment` entry from the enterprise's cash to its `penalties`,
referencing the penalty and the payment, of at most what the penalty still owes (partial
payments are allowed). It is idempotent on the client's id: the same payment again (same
penalty, amount and date) is answered as a replay, another under its id is a 409. The caller
finds the penalty in the actor's scope, locked, so that two payments never both take its last
fen; authority and audit are the caller's use case's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from ledger.domain.entries import Reference
from ledger.domain.errors import RecordExists
from ledger.domain.penalties import PenaltyPayment, check_payment
from ledger.domain.ports import UnitOfWork
from ledger.domain.registry import CASH, CASH_ACCOUNT, PENALTIES, account_code
from ledger.services import journal
from ledger.services.business_dates import booked_on, effective_at
from ledger.services.parties import move


@dataclass(frozen=True, slots=True)
class PaymentBook:
    """Where one kind of penalty keeps its payments, and how their entries name the penalty."""

    reference: str  # the kind of the entry's reference to the penalty ("rights_penalty", ...)
    entry_prefix: str  # a payment's entry is `{entry_prefix}{payment id}`
    get: Callable[[UnitOfWork, str], PenaltyPayment | None]
    add: Callable[[UnitOfWork, PenaltyPayment, datetime], None]
    paid_fen: Callable[[UnitOfWork, str], int]


@dataclass(frozen=True, slots=True)
class Owed:
    """A booked penalty as a payment sees it: what messages call it, whose it is, how much."""

    label: str
    party_code: str
    amount_fen: int


def pay(
    uow: UnitOfWork,
    book: PaymentBook,
    owed: Owed,
    payment: PenaltyPayment,
    business_date: date | None,
) -> bool:
    """Pay `payment` of the penalty `owed` (already found and locked); the entry takes effect on
    `business_date` (None: today). Whether it was a replay of the payment stored under its id."""
    entry_id = f"{book.entry_prefix}{payment.id}"
    stored = book.get(uow, payment.id)
    if stored is not None:
        if stored != payment or not booked_on(uow, entry_id, business_date):
            raise RecordExists(f"payment {payment.id} exists", field="id")
        return True
    moment = effective_at(uow, business_date)
    outstanding = owed.amount_fen - book.paid_fen(uow, payment.penalty_id)
    check_payment(owed.label, outstanding, payment.amount_fen)
    book.add(uow, payment, uow.now())
    cash = account_code(owed.party_code, CASH_ACCOUNT)
    penalties = account_code(owed.party_code, PENALTIES)
    entry = journal.PostEntry(
        entry_id=entry_id,
        entry_type="penalty_payment",
        postings=tuple(move(cash, penalties, CASH, payment.amount_fen, 2)),
        references=(
            Reference(book.reference, payment.penalty_id),
            Reference("payment", payment.id),
        ),
        effective_at=moment,
    )
    journal.write_in(uow, [entry])
    return False
