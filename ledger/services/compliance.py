"""Carbon compliance: obligations from verified emissions, surrender (oldest vintage first,
CCER capped), status per enterprise, the deadline (penalty booked, shortfall deducted from
next year's allocation), and the payment of that penalty through the ledger.

An obligation is its enterprise's: out of the actor's scope it is not found. Setting an
obligation and surrendering are idempotent on the client's id (a surrender's id names its
journal entry, which keeps the request it was made for). Closing with a shortfall books a
penalty sized by the price one regulator states: it needs a second regulator when the operator
keeps `obligation_close` in `LEDGER_FOUR_EYES` (the default). The enterprise (or whoever may
pay a rights penalty) pays the shortfall penalty as it pays a rights penalty
(`ledger.services.penalty_payments`): in parts, at most what is still owed, idempotent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from ledger.domain.access import Actor, Pending
from ledger.domain.accounts import Side
from ledger.domain.bounds import check_year, is_digits
from ledger.domain.entries import EntryRecord, PostingRequest, Reference
from ledger.domain.errors import (
    AmountNotPositive,
    CcerCapExceeded,
    DeadlineNotPassed,
    InsufficientBalance,
    InvalidField,
    ObligationClosed,
    RecordExists,
    RecordNotFound,
    UnknownInstrument,
)
from ledger.domain.finance import beijing_date
from ledger.domain.pages import Created, Page, check_page_size, decode_cursor, keyset_page
from ledger.domain.penalties import NoPenaltyOwed, PenaltyPayment
from ledger.domain.ports import Surrender, UnitOfWork, UnitOfWorkFactory
from ledger.domain.registry import (
    CARBON,
    CCER,
    HOLDINGS,
    PENALTIES,
    PROVINCE,
    REVENUE,
    SURRENDERED,
    ComplianceStatus,
    Deduction,
    Obligation,
    account_code,
    ccer_cap_units,
    check_not_over,
    check_vintage,
    deductions_from,
    instrument_code,
    penalty_fen,
)
from ledger.services import journal, penalty_payments
from ledger.services.authority import gate, party_in_scope, sees, use_case, visible_party
from ledger.services.business_dates import effective_at, same_day
from ledger.services.parties import (
    amount,
    check_can_give,
    check_not_expired,
    expired_instruments,
    move,
    policy_of,
)
from ledger.services.transactions import in_transaction, read

OBLIGATION_CLOSE = "obligation_close"  # its four-eyes operation (with a shortfall)
# A shortfall penalty's payments: their own table, their entries
# `obligation-penalty-payment-{id}` (a rights penalty's payment ids are another namespace).
PAYMENTS = penalty_payments.PaymentBook(
    "obligation",
    "obligation-penalty-payment-",
    get=lambda uow, payment_id: uow.registry.get_obligation_payment(payment_id),
    add=lambda uow, payment, at: uow.registry.add_obligation_payment(payment, at),
    paid_fen=lambda uow, obligation_id: uow.registry.obligation_paid_fen(obligation_id),
)


@use_case("obligations.set")
def set_obligation(
    uow_factory: UnitOfWorkFactory, actor: Actor, obligation: Obligation
) -> Created[Obligation]:
    """A regulator enters an enterprise's verified emissions for a period (its obligation)."""

    def work(uow: UnitOfWork) -> Created[Obligation]:
        existing = uow.registry.get_obligation(obligation.id)
        if existing is not None:
            # What was sent, not what the deadline made of it since (closed, penalty, deduction).
            sent = replace(existing, closed=False, penalty_fen=0, deduction_units=0)
            if sent != obligation or not sees(uow, actor, existing.party_code):
                raise RecordExists(f"obligation {obligation.id} exists", field="id")
            return Created(existing, replayed=True)
        visible_party(uow, actor, obligation.party_code)
        if obligation.verified_units <= 0:
            raise AmountNotPositive("verified emissions must be positive", field="verified")
        uow.registry.add_obligation(obligation, uow.now())
        return Created(obligation)

    return in_transaction(uow_factory, work, actor=actor)


@dataclass(frozen=True, slots=True)
class SurrenderRequest:
    """Surrender `units` against an obligation; `instrument` None means oldest CEA first;
    `business_date` is the surrender date (its entry takes effect then; None: today)."""

    id: str
    obligation_id: str
    units: int
    instrument: str | None = None
    business_date: date | None = None


@use_case("obligations.surrender")
def surrender(
    uow_factory: UnitOfWorkFactory, actor: Actor, request: SurrenderRequest
) -> Created[list[Surrender]]:
    """Move allowances (or CCER, within the cap) from holdings to the surrendered account. The
    same request again (its id) answers what it surrendered; another under its id is a 409."""

    def work(uow: UnitOfWork) -> Created[list[Surrender]]:
        obligation = _obligation(uow, actor, request.obligation_id, lock=True)
        entry_id = f"surrender-{request.id}"
        stored = uow.journal.get_many([entry_id]).get(entry_id)
        if stored is not None:
            return Created(_surrendered(stored, request), replayed=True)
        if obligation.closed:
            raise ObligationClosed(f"obligation {obligation.id} is closed", field="obligation")
        if request.units <= 0:
            raise AmountNotPositive("surrender a positive quantity", field="quantity")
        surrendered = sum(s.units for s in uow.registry.surrenders_of(obligation.id))
        check_not_over(obligation, surrendered, request.units)
        party = obligation.party_code
        parts = _choose(uow, obligation, request)
        unknown = {code for code, _ in parts} - set(uow.instruments.get_many(c for c, _ in parts))
        if unknown:  # a named vintage never issued: nothing to surrender (no balance row for it)
            raise UnknownInstrument(f"no instrument {sorted(unknown)[0]!r}", field="instrument")
        vintages = [int(code.rpartition("-")[2]) for code, _ in parts if code != CCER]
        moment = effective_at(uow, request.business_date, vintages=vintages)
        postings: list[PostingRequest] = []
        for code, units in parts:
            holdings = account_code(party, HOLDINGS)
            check_can_give(uow, party, holdings, [code], units)
            postings += move(holdings, account_code(party, SURRENDERED), code, units, 0)
        journal.write_in(
            uow,
            [
                journal.PostEntry(
                    entry_id=entry_id,
                    entry_type="surrender",
                    postings=tuple(postings),
                    references=(Reference("obligation", obligation.id),),
                    metadata=_asked(request),
                    effective_at=moment,
                )
            ],
        )
        records = [Surrender(f"{request.id}-{c}", obligation.id, c, u) for c, u in parts]
        for record in records:
            uow.registry.add_surrender(record, uow.now())
        return Created(records)

    return in_transaction(uow_factory, work, actor=actor)


def _asked(request: SurrenderRequest) -> dict[str, Any]:
    """What a surrender asked for, kept on its entry to tell a retry from another request."""
    return {"requested_units": request.units, "requested_instrument": request.instrument or ""}


def _surrendered(stored: EntryRecord, request: SurrenderRequest) -> list[Surrender]:
    """What the surrender stored as `stored` moved, if `request` is the one it was made for."""
    asked = _asked(request)
    same = (
        stored.references == (Reference("obligation", request.obligation_id),)
        and same_day(stored.effective_at, request.business_date)
        and {key: stored.metadata.get(key) for key in asked} == asked
    )
    if not same:
        raise RecordExists(f"surrender {request.id} exists", field="id")
    return [
        Surrender(
            f"{request.id}-{p.instrument_code}", request.obligation_id, p.instrument_code, p.units
        )
        for p in stored.postings
        if p.side is Side.DEBIT
    ]


def _choose(
    uow: UnitOfWork, obligation: Obligation, request: SurrenderRequest
) -> list[tuple[str, int]]:
    """(instrument, units) to surrender: the one chosen, or the oldest CEA vintages first."""
    if request.instrument == CCER:
        _check_ccer_cap(uow, obligation, request.units)
        return [(CCER, request.units)]
    if request.instrument is not None:
        check_not_expired(uow, [request.instrument])
        if not request.instrument.startswith(f"{CARBON}-"):
            raise InvalidField("surrender CEA of a compliance year or CCER", field="instrument")
        check_vintage(request.instrument, obligation.period)
        return [(request.instrument, request.units)]
    parts, left = [], request.units
    for code, available in _eligible_holdings(uow, obligation):
        take = min(available, left)
        if take:
            parts.append((code, take))
            left -= take
    if left:
        raise InsufficientBalance(
            f"{obligation.party_code} holds {request.units - left} tCO2 of eligible CEA, "
            f"not {request.units}",
            field="quantity",
        )
    return parts


def _eligible_holdings(uow: UnitOfWork, obligation: Obligation) -> list[tuple[str, int]]:
    """CEA of the obligation's year or earlier (banked), oldest first, not expired."""
    account = uow.accounts.get_many([account_code(obligation.party_code, HOLDINGS)])
    if not account:
        return []
    (holdings,) = account.values()
    expired = expired_instruments(uow)
    found = []
    for balance in uow.journal.balances_of(holdings.id):
        code = balance.instrument_code
        family, _, year = code.partition("-")
        eligible = family == CARBON and is_digits(year) and int(year) <= obligation.period
        if eligible and code not in expired and balance.available > 0:
            found.append((int(year), code, balance.available))
    return [(code, available) for _, code, available in sorted(found)]


def _check_ccer_cap(uow: UnitOfWork, obligation: Obligation, units: int) -> None:
    cap = ccer_cap_units(obligation.verified_units, policy_of(uow).ccer_cap)
    used = sum(
        s.units for s in uow.registry.surrenders_of(obligation.id) if s.instrument_code == CCER
    )
    if used + units > cap:
        raise CcerCapExceeded(
            f"CCER may cover at most {cap} tCO2 of obligation {obligation.id}; "
            f"{used} tCO2 already surrendered",
            field="quantity",
        )


@use_case("obligations.status")
def status(uow_factory: UnitOfWorkFactory, actor: Actor, obligation_id: str) -> ComplianceStatus:
    """Obligation, surrendered, shortfall, and the shortfall left after current holdings."""

    def work(uow: UnitOfWork) -> ComplianceStatus:
        return _status(uow, _obligation(uow, actor, obligation_id))

    return read(uow_factory, work)


def _status(uow: UnitOfWork, obligation: Obligation) -> ComplianceStatus:
    surrenders = uow.registry.surrenders_of(obligation.id)
    return ComplianceStatus(
        obligation,
        surrendered_units=sum(s.units for s in surrenders),
        ccer_units=sum(s.units for s in surrenders if s.instrument_code == CCER),
        holdings_units=sum(units for _, units in _eligible_holdings(uow, obligation)),
        deducted_units=uow.registry.deducted_units([obligation.id]).get(obligation.id, 0),
        penalty_paid_fen=uow.registry.obligation_paid_fen(obligation.id),
    )


@use_case("compliance.read")
def statuses_of(uow_factory: UnitOfWorkFactory, actor: Actor, party: str) -> list[ComplianceStatus]:
    """The compliance status of every obligation of an enterprise, by period."""

    def work(uow: UnitOfWork) -> list[ComplianceStatus]:
        party_in_scope(uow, actor, party)
        found = uow.registry.list_obligations(party, None, 0, 1000)
        return [_status(uow, o) for _, o in sorted(found, key=lambda p: p[1].period)]

    return read(uow_factory, work)


@use_case("obligations.close")
def close_deadline(
    uow_factory: UnitOfWorkFactory, actor: Actor, obligation_id: str, average_price_fen: int
) -> ComplianceStatus | Pending:
    """At the deadline: book the shortfall penalty (multiplier × the month's average price ×
    shortfall) as owed by the enterprise, and record the shortfall as next year's deduction.
    With a shortfall, the price one regulator states sizes the penalty: it waits for a second
    regulator when `obligation_close` is four-eyes (docs/decisions, shortfall penalty)."""

    def work(uow: UnitOfWork) -> ComplianceStatus | Pending:
        obligation = _obligation(uow, actor, obligation_id, lock=True)
        if obligation.closed:
            raise ObligationClosed(f"obligation {obligation.id} is closed", field="obligation")
        today = beijing_date(uow.now())
        if today <= obligation.deadline:
            raise DeadlineNotPassed(
                f"obligation {obligation.id} is due by {obligation.deadline}: it can be closed "
                f"from the day after (today is {today} in Beijing)",
                field="obligation",
            )
        shortfall = _status(uow, obligation).shortfall_units
        fen = penalty_fen(shortfall, average_price_fen, policy_of(uow).penalty_multiplier)
        pending = _gate_close(uow, actor, obligation, average_price_fen, shortfall, fen)
        if pending is not None:
            return pending
        if fen:
            _book_shortfall_penalty(uow, obligation, shortfall, average_price_fen, fen)
        uow.registry.close_obligation(obligation.id, fen, shortfall)
        closed = replace(obligation, closed=True, penalty_fen=fen, deduction_units=shortfall)
        return _status(uow, closed)

    return in_transaction(uow_factory, work, actor=actor)


def _gate_close(  # noqa: PLR0917 - what the approver is shown
    uow: UnitOfWork,
    actor: Actor,
    obligation: Obligation,
    average_price_fen: int,
    shortfall: int,
    fen: int,
) -> Pending | None:
    """A close with a shortfall waits for a second regulator; without one it goes ahead.

    The request carries the shortfall and the penalty it books, so an approval applies only
    while they are what the approver saw. Its key is the obligation, the shortfall and the
    price (all the request is): a retry answers the same request, and after a rejection the
    regulator may ask again at another price."""
    payload = {
        "obligation": obligation.id,
        "party_code": obligation.party_code,
        "average_price_fen": average_price_fen,
        "shortfall_units": shortfall,
        "penalty_fen": fen,
    }
    key = f"{obligation.id}/{shortfall}/{average_price_fen}"
    return gate(uow, actor, OBLIGATION_CLOSE, payload, key=key, needed=shortfall > 0)


def _book_shortfall_penalty(
    uow: UnitOfWork, obligation: Obligation, shortfall: int, average_price_fen: int, fen: int
) -> None:
    owed = account_code(obligation.party_code, PENALTIES)
    revenue = account_code(PROVINCE, REVENUE)
    journal.write_in(
        uow,
        [
            journal.PostEntry(
                entry_id=f"obligation-{obligation.id}-penalty",
                entry_type="penalty",
                postings=tuple(move(owed, revenue, "CNY", fen, 2)),
                references=(Reference("obligation", obligation.id),),
                metadata={
                    "shortfall_tco2": shortfall,
                    "average_price": str(amount(2, average_price_fen)),
                },
            )
        ],
    )


@use_case("obligations.pay_penalty")
def pay_shortfall_penalty(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    payment: PenaltyPayment,
    business_date: date | None = None,
) -> Created[ComplianceStatus]:
    """Pay (part of) the shortfall penalty of a closed obligation (`payment.penalty_id`) from
    the enterprise's cash: at most what it still owes; the entry takes effect on
    `business_date` (the payment date; None: today). The status answers paid and outstanding."""

    def work(uow: UnitOfWork) -> Created[ComplianceStatus]:
        obligation = _obligation(uow, actor, payment.penalty_id, lock=True)
        if not obligation.penalty_fen:  # no payment can be stored for it: a retry is never here
            why = "closed without a shortfall" if obligation.closed else "not closed yet"
            raise NoPenaltyOwed(
                f"obligation {obligation.id} has no penalty to pay: it is {why}",
                field="obligation",
            )
        owed = penalty_payments.Owed(
            f"the penalty of obligation {obligation.id}",
            obligation.party_code,
            obligation.penalty_fen,
        )
        replayed = penalty_payments.pay(uow, PAYMENTS, owed, payment, business_date)
        return Created(_status(uow, obligation), replayed=replayed)

    return in_transaction(uow_factory, work, actor=actor)


def run_approved_close(
    uow_factory: UnitOfWorkFactory, actor: Actor, payload: Mapping[str, Any]
) -> ComplianceStatus | Pending:
    """The executor of an approved `obligation_close` request (`ledger.services.approvals`)."""
    return close_deadline(
        uow_factory, actor, str(payload["obligation"]), int(payload["average_price_fen"])
    )


def _obligation(
    uow: UnitOfWork, actor: Actor, obligation_id: str, *, lock: bool = False
) -> Obligation:
    """The obligation, if its enterprise is in the actor's scope; else the same 404 as for an
    unknown id."""
    found = uow.registry.get_obligation(obligation_id, lock=lock)
    if found is None or not sees(uow, actor, found.party_code):
        raise RecordNotFound(f"obligation {obligation_id!r} not found", field="obligation_id")
    return found


@use_case("obligations.list")
def list_obligations(  # noqa: PLR0917 - query filters
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    party: str | None,
    period: int | None,
    cursor: str | None,
    limit: int,
) -> Page[Obligation]:
    after = decode_cursor("obligations", cursor)
    check_page_size(limit)
    if period is not None:
        check_year(period, "period")
    rows = read(
        uow_factory,
        lambda uow: uow.registry.list_obligations(party, period, after, limit, scope=actor.scope),
    )
    return keyset_page("obligations", rows, limit)


def obligation_instrument(period: int) -> str:
    return instrument_code(CARBON, period)


# -- the deduction of a shortfall from later allocations (rules §7.9) ------------------------


def deduct_shortfalls(
    uow: UnitOfWork, allocation_id: str, party: str, year: int, units: int
) -> list[Deduction]:
    """Deduct from a CEA allocation of `year` the shortfalls of the party's closed obligations
    of earlier years still owing (oldest first); each deduction is recorded, so a shortfall is
    deducted once, over as many allocations as it takes. The obligations are locked first."""
    owing = uow.registry.owing_obligations(party, year)
    done = uow.registry.deducted_units([o.id for o in owing])
    left = [(o.id, o.deduction_units - done.get(o.id, 0)) for o in owing]
    deductions = deductions_from(allocation_id, party, year, units, left)
    uow.registry.add_deductions(deductions, uow.now())
    return deductions


def check_same_allocation(
    deductions: Sequence[Deduction], party: str, year: int | None, units: int
) -> None:
    """An allocation made before deducted `deductions`: a retry must ask the same of them."""
    for deduction in deductions:
        if (deduction.party_code, deduction.year, deduction.allocated_units) != (
            party,
            year,
            units,
        ):
            raise RecordExists(f"allocation {deduction.allocation_id} exists", field="id")


@use_case("deductions.list")
def list_deductions(  # noqa: PLR0917 - query filters
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    party: str | None,
    obligation_id: str | None,
    cursor: str | None,
    limit: int,
) -> Page[Deduction]:
    """Deductions of shortfalls from allocations, of the enterprises the actor sees."""
    after = decode_cursor("deductions", cursor)
    check_page_size(limit)
    rows = read(
        uow_factory,
        lambda uow: uow.registry.list_deductions(
            party, obligation_id, after, limit, scope=actor.scope
        ),
    )
    return keyset_page("deductions", rows, limit)
