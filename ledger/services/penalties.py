"""Emission-rights penalties (rules §4, §7.10): a regulator books a penalty for a finding of a
verified report (emissions above the rights held, pledged included, or hourly exceedances) as a
receivable entry, and the enterprise pays it through the ledger.

Booking is one `penalty` entry (the enterprise's `penalties`, debit-normal, against
`HEBEI:revenue`) referencing the report and the penalty; a payment is one `penalty_payment`
entry from the enterprise's cash to its `penalties` (`ledger.services.penalty_payments`, which
pays an obligation's shortfall penalty alike). Both are idempotent on the client's id.
Booking needs a second principal when the operator puts `penalty` in `LEDGER_FOUR_EYES`. A
penalty is its enterprise's: out of the actor's scope it is not found.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from typing import Any

from ledger.domain.access import Actor, Pending
from ledger.domain.business_dates import FIELD as BUSINESS_DATE
from ledger.domain.entries import Reference
from ledger.domain.errors import RecordExists, RecordNotFound
from ledger.domain.pages import Created, Page, check_page_size, decode_cursor, keyset_page
from ledger.domain.payloads import from_payload, to_payload
from ledger.domain.penalties import (
    NotNonCompliant,
    PenaltyPayment,
    PenaltyStatus,
    RightsPenalty,
    check_penalty_amount,
)
from ledger.domain.ports import UnitOfWork, UnitOfWorkFactory
from ledger.domain.registry import CASH, PENALTIES, PROVINCE, REVENUE, account_code
from ledger.services import journal, penalty_payments, reductions
from ledger.services.authority import gate, sees, use_case
from ledger.services.business_dates import booked_on, effective_at
from ledger.services.parties import ensure_instruments, move
from ledger.services.transactions import in_transaction, read

PENALTY = "penalty"  # its four-eyes operation
# A rights penalty's payments: their own table, their entries `penalty-payment-{id}`.
PAYMENTS = penalty_payments.PaymentBook(
    "rights_penalty",
    "penalty-payment-",
    get=lambda uow, payment_id: uow.registry.get_penalty_payment(payment_id),
    add=lambda uow, payment, at: uow.registry.add_penalty_payment(payment, at),
    paid_fen=lambda uow, penalty_id: uow.registry.paid_fen(penalty_id),
)


@use_case("rights_penalties.book")
def book_penalty(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    penalty: RightsPenalty,
    business_date: date | None = None,
) -> Created[RightsPenalty] | Pending:
    """Book a penalty for `penalty.pollutant` of a verified report that shows non-compliance;
    the enterprise is the report's, the findings are what the report shows. Its entry takes
    effect on `business_date` (the decision's date; None: today)."""

    def work(uow: UnitOfWork) -> Created[RightsPenalty] | Pending:
        existing = uow.registry.get_rights_penalty(penalty.id)
        if existing is not None:
            if (
                _asked(existing) != _asked(penalty)
                or not sees(uow, actor, existing.party_code)
                or not booked_on(uow, _entry_id(existing), business_date)
            ):
                raise RecordExists(f"penalty {penalty.id} exists", field="id")
            return Created(existing, replayed=True)
        check_penalty_amount(penalty.amount_fen)
        moment = effective_at(uow, business_date)
        report = reductions.verified_report(uow, actor, penalty.report_id)
        found = [
            o for o in reductions.obligations_of(uow, report) if o.pollutant == penalty.pollutant
        ]
        if not found or found[0].compliant:
            raise NotNonCompliant(
                f"report {report.id} shows no {penalty.pollutant} non-compliance",
                field="pollutant",
            )
        payload = to_payload(penalty)
        if business_date is not None:
            payload[BUSINESS_DATE] = business_date.isoformat()
        pending = gate(uow, actor, PENALTY, payload, key=penalty.id)
        if pending is not None:
            return pending
        record = replace(penalty, party_code=report.party, findings=found[0].findings)
        uow.registry.add_rights_penalty(record, uow.now())
        ensure_instruments(uow, CASH, [None])
        owed, revenue = account_code(record.party_code, PENALTIES), account_code(PROVINCE, REVENUE)
        entry = journal.PostEntry(
            entry_id=_entry_id(record),
            entry_type="penalty",
            postings=tuple(move(owed, revenue, CASH, record.amount_fen, 2)),
            references=(Reference("report", report.id), Reference("rights_penalty", record.id)),
            metadata={"pollutant": record.pollutant, "findings": ",".join(record.findings)},
            effective_at=moment,
        )
        journal.write_in(uow, [entry])
        return Created(record)

    return in_transaction(uow_factory, work, actor=actor)


def run_approved_penalty(
    uow_factory: UnitOfWorkFactory, actor: Actor, payload: Mapping[str, Any]
) -> Created[RightsPenalty] | Pending:
    day = payload.get(BUSINESS_DATE)
    penalty = from_payload(RightsPenalty, {k: v for k, v in payload.items() if k != BUSINESS_DATE})
    return book_penalty(
        uow_factory, actor, penalty, None if day is None else date.fromisoformat(day)
    )


def _entry_id(penalty: RightsPenalty) -> str:
    return f"rights-penalty-{penalty.id}"


def _asked(penalty: RightsPenalty) -> tuple[str, str, int, str]:
    """What a booking asked for (the party and findings come from the report)."""
    return (penalty.report_id, penalty.pollutant, penalty.amount_fen, penalty.note)


@use_case("rights_penalties.pay")
def pay_penalty(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    payment: PenaltyPayment,
    business_date: date | None = None,
) -> Created[PenaltyStatus]:
    """Pay (part of) a penalty from the enterprise's cash: at most what it still owes; the
    entry takes effect on `business_date` (the payment date; None: today)."""

    def work(uow: UnitOfWork) -> Created[PenaltyStatus]:
        penalty = _visible(uow, actor, payment.penalty_id, lock=True)
        label = f"penalty {penalty.id}"
        owed = penalty_payments.Owed(label, penalty.party_code, penalty.amount_fen)
        replayed = penalty_payments.pay(uow, PAYMENTS, owed, payment, business_date)
        return Created(_status(uow, penalty), replayed=replayed)

    return in_transaction(uow_factory, work, actor=actor)


@use_case("rights_penalties.read")
def get_penalty(uow_factory: UnitOfWorkFactory, actor: Actor, penalty_id: str) -> PenaltyStatus:
    """A penalty with what was paid of it and what it still owes."""
    return read(uow_factory, lambda uow: _status(uow, _visible(uow, actor, penalty_id)))


@use_case("rights_penalties.list")
def list_penalties(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    party: str | None,
    cursor: str | None,
    limit: int,
) -> Page[PenaltyStatus]:
    """Penalties in booking order, of the enterprises the actor sees."""
    after = decode_cursor("rights_penalties", cursor)
    check_page_size(limit)

    def work(uow: UnitOfWork) -> list[tuple[int, PenaltyStatus]]:
        rows = uow.registry.list_rights_penalties(party, after, limit, scope=actor.scope)
        return [(seq, _status(uow, penalty)) for seq, penalty in rows]

    return keyset_page("rights_penalties", read(uow_factory, work), limit)


def _status(uow: UnitOfWork, penalty: RightsPenalty) -> PenaltyStatus:
    return PenaltyStatus(penalty, uow.registry.paid_fen(penalty.id))


def _visible(
    uow: UnitOfWork, actor: Actor, penalty_id: str, *, lock: bool = False
) -> RightsPenalty:
    """The penalty, if its enterprise is in the actor's scope; else the same 404 as unknown."""
    found = uow.registry.get_rights_penalty(penalty_id, lock=lock)
    if found is None or not sees(uow, actor, found.party_code):
        raise RecordNotFound(f"penalty {penalty_id!r} not found", field="penalty_id")
    return found
