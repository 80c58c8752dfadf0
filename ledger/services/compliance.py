"""Carbon compliance: obligations from verified emissions, surrender (oldest vintage first,
CCER capped), status per enterprise, and the deadline (penalty booked, shortfall deducted from
next year's allocation).
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.domain.bounds import check_year
from ledger.domain.entries import PostingRequest, Reference
from ledger.domain.errors import (
    AmountNotPositive,
    CcerCapExceeded,
    InsufficientBalance,
    InvalidField,
    ObligationClosed,
    RecordExists,
    RecordNotFound,
    UnknownInstrument,
)
from ledger.domain.pages import check_page_size, decode_cursor
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
    Obligation,
    account_code,
    ccer_cap_units,
    instrument_code,
    penalty_fen,
)
from ledger.services import journal
from ledger.services.parties import (
    amount,
    check_can_give,
    check_not_expired,
    expired_instruments,
    move,
    party_of,
    policy_of,
)
from ledger.services.transactions import in_transaction, read


def set_obligation(uow_factory: UnitOfWorkFactory, obligation: Obligation) -> Obligation:
    """A regulator enters an enterprise's verified emissions for a period (its obligation)."""

    def work(uow: UnitOfWork) -> Obligation:
        existing = uow.registry.get_obligation(obligation.id)
        if existing is not None:
            if existing != obligation:
                raise RecordExists(f"obligation {obligation.id} exists", field="id")
            return existing
        party_of(uow, obligation.party_code)
        if obligation.verified_units <= 0:
            raise AmountNotPositive("verified emissions must be positive", field="verified")
        uow.registry.add_obligation(obligation, uow.now())
        return obligation

    return in_transaction(uow_factory, work)


@dataclass(frozen=True, slots=True)
class SurrenderRequest:
    """Surrender `units` against an obligation; `instrument` None means oldest CEA first."""

    id: str
    obligation_id: str
    units: int
    instrument: str | None = None


def surrender(uow_factory: UnitOfWorkFactory, request: SurrenderRequest) -> list[Surrender]:
    """Move allowances (or CCER, within the cap) from holdings to the surrendered account."""

    def work(uow: UnitOfWork) -> list[Surrender]:
        obligation = _obligation(uow, request.obligation_id, lock=True)
        if obligation.closed:
            raise ObligationClosed(f"obligation {obligation.id} is closed", field="obligation")
        if request.units <= 0:
            raise AmountNotPositive("surrender a positive quantity", field="quantity")
        party = obligation.party_code
        parts = _choose(uow, obligation, request)
        unknown = {code for code, _ in parts} - set(uow.instruments.get_many(c for c, _ in parts))
        if unknown:  # a named vintage never issued: nothing to surrender (no balance row for it)
            raise UnknownInstrument(f"no instrument {sorted(unknown)[0]!r}", field="instrument")
        postings: list[PostingRequest] = []
        for code, units in parts:
            holdings = account_code(party, HOLDINGS)
            check_can_give(uow, party, holdings, [code], units)
            postings += move(holdings, account_code(party, SURRENDERED), code, units, 0)
        journal.write_in(
            uow,
            [
                journal.PostEntry(
                    entry_id=f"surrender-{request.id}",
                    entry_type="surrender",
                    postings=tuple(postings),
                    references=(Reference("obligation", obligation.id),),
                )
            ],
        )
        records = [Surrender(f"{request.id}-{c}", obligation.id, c, u) for c, u in parts]
        for record in records:
            uow.registry.add_surrender(record, uow.now())
        return records

    return in_transaction(uow_factory, work)


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
        return [(request.instrument, request.units)]
    parts, left = [], request.units
    for code, available in _eligible_holdings(uow, obligation):
        take = min(available, left)
        if take:
            parts.append((code, take))
            left -= take
    if left:
        raise InsufficientBalance(
            f"{obligation.party_code} holds {request.units - left} eligible CEA, "
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
        eligible = family == CARBON and year.isdigit() and int(year) <= obligation.period
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
            f"CCER may cover at most {cap} t of obligation {obligation.id}; "
            f"{used} already surrendered",
            field="quantity",
        )


def status(uow_factory: UnitOfWorkFactory, obligation_id: str) -> ComplianceStatus:
    """Obligation, surrendered, shortfall, and the shortfall left after current holdings."""

    def work(uow: UnitOfWork) -> ComplianceStatus:
        return _status(uow, _obligation(uow, obligation_id))

    return read(uow_factory, work)


def _status(uow: UnitOfWork, obligation: Obligation) -> ComplianceStatus:
    surrenders = uow.registry.surrenders_of(obligation.id)
    return ComplianceStatus(
        obligation,
        surrendered_units=sum(s.units for s in surrenders),
        ccer_units=sum(s.units for s in surrenders if s.instrument_code == CCER),
        holdings_units=sum(units for _, units in _eligible_holdings(uow, obligation)),
    )


def statuses_of(uow_factory: UnitOfWorkFactory, party: str) -> list[ComplianceStatus]:
    """The compliance status of every obligation of an enterprise, by period."""

    def work(uow: UnitOfWork) -> list[ComplianceStatus]:
        party_of(uow, party)
        found = uow.registry.list_obligations(party, None, 0, 1000)
        return [_status(uow, o) for _, o in sorted(found, key=lambda p: p[1].period)]

    return read(uow_factory, work)


def close_deadline(
    uow_factory: UnitOfWorkFactory, obligation_id: str, average_price_fen: int
) -> ComplianceStatus:
    """At the deadline: book the shortfall penalty (multiplier × the month's average price ×
    shortfall) as owed by the enterprise, and record the shortfall as next year's deduction."""

    def work(uow: UnitOfWork) -> ComplianceStatus:
        obligation = _obligation(uow, obligation_id, lock=True)
        if obligation.closed:
            raise ObligationClosed(f"obligation {obligation.id} is closed", field="obligation")
        current = _status(uow, obligation)
        shortfall = current.shortfall_units
        fen = penalty_fen(shortfall, average_price_fen, policy_of(uow).penalty_multiplier)
        if fen:
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
        uow.registry.close_obligation(obligation.id, fen, shortfall)
        return _status(uow, _obligation(uow, obligation.id))

    return in_transaction(uow_factory, work)


def _obligation(uow: UnitOfWork, obligation_id: str, *, lock: bool = False) -> Obligation:
    found = uow.registry.get_obligation(obligation_id, lock=lock)
    if found is None:
        raise RecordNotFound(f"no obligation {obligation_id!r}", field="obligation_id")
    return found


def list_obligations(
    uow_factory: UnitOfWorkFactory,
    party: str | None,
    period: int | None,
    cursor: str | None,
    limit: int,
) -> list[tuple[int, Obligation]]:
    after = decode_cursor("obligations", cursor)
    check_page_size(limit)
    if period is not None:
        check_year(period, "period")
    return read(uow_factory, lambda uow: uow.registry.list_obligations(party, period, after, limit))


def obligation_instrument(period: int) -> str:
    return instrument_code(CARBON, period)
