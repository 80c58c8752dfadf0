"""Regulator operations on rights: confirm entitlements, issue carbon units, deposit cash,
pledge and release, reserve sale, buy-back, reclaim, confiscation, cancellation, vintage expiry.

Each is one journal entry (or one atomic batch) of its own entry type, with a deterministic entry
id derived from the business record and references naming it. Every record is written in the
same transaction as its entries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from ledger.domain.access import Actor, Pending
from ledger.domain.business_dates import FIELD as BUSINESS_DATE
from ledger.domain.entries import EntryRecord, PostingRequest, Reference
from ledger.domain.errors import (
    AcquisitionMismatch,
    InvalidField,
    PledgeAlreadyReleased,
    PriceAboveCeiling,
    PriceBelowFloor,
    RecordExists,
    RecordNotFound,
    RightsNotPaidFor,
    SurplusExceeded,
)
from ledger.domain.finance import beijing_date
from ledger.domain.limits import PAGE_SIZE_MAX
from ledger.domain.pages import Created, Page, check_page_size, decode_cursor, keyset_page
from ledger.domain.payloads import from_payload, to_payload
from ledger.domain.ports import UnitOfWork, UnitOfWorkFactory
from ledger.domain.registry import (
    BUDGET,
    CANCELLATION,
    CARBON,
    CASH,
    CASH_ACCOUNT,
    DEPOSITS,
    HOLDINGS,
    ISSUANCE,
    PLEDGED,
    PROVINCE,
    RESERVE,
    RETIREMENT,
    REVENUE,
    Acquisition,
    Entitlement,
    PartyKind,
    Pledge,
    Policy,
    account_code,
    check_pollutant,
    instrument_code,
    rights_account,
    scale_of,
    trade_value_fen,
)
from ledger.services import blocks, compliance, journal
from ledger.services.authority import (
    acting_as,
    gate,
    sees,
    use_case,
    visible_party,
)
from ledger.services.business_dates import booked_on, effective_at
from ledger.services.parties import (
    check_can_give,
    check_may_receive,
    check_not_expired,
    ensure_instruments,
    mark_expired,
    move,
    party_of,
    policy_of,
)
from ledger.services.transactions import in_transaction, read

EXCHANGE = "EXCHANGE"
ALLOCATION = "allocation"  # the four-eyes operation of a large entitlement


def _post(
    uow: UnitOfWork,
    commands: Sequence[journal.PostEntry],
    *,
    retry_safe: bool = False,
    locked: journal.LockedBalances | None = None,
) -> tuple[list[EntryRecord], bool]:
    """Write an operation's entries; and whether this was a replay. The operation's id names
    them: a second use of it is a clear conflict, not a unique-index failure surfacing as a
    500, unless the operation is `retry_safe` (its entries are all it writes) and the request
    is the same: then the stored entries answer. `locked`: the balances the caller locked
    already (every one the entries touch)."""
    taken = uow.journal.get_many(c.entry_id for c in commands)
    if taken and retry_safe and journal.is_replay(uow, commands, taken):
        return [taken[c.entry_id] for c in commands], True
    if taken:
        raise RecordExists(f"entry {sorted(taken)[0]!r} exists: use a new operation id", field="id")
    return journal.write_in(uow, commands, locked=locked), False


# -- entitlements, carbon issuance, cash deposits ---------------------------------------------


@use_case("entitlements.confirm")
def confirm_entitlement(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    entitlement: Entitlement,
    business_date: date | None = None,
) -> Created[Entitlement] | Pending:
    """Confirm rights in t/a for their validity: one allocation entry per vintage, one batch,
    effective on `business_date` (the allocation date; may precede the vintages: rights are
    confirmed ahead). An authority's entitlement stocks its government reserve. Above the
    four-eyes threshold (`FourEyesPolicy.allocation_threshold_t`) it waits for a second
    principal ("allocation")."""

    def work(uow: UnitOfWork) -> Created[Entitlement] | Pending:
        existing = uow.registry.get_entitlement(entitlement.id)
        if existing is not None:
            # Out of the actor's scope, the record is not answered, even to the same body.
            first = f"entitlement-{existing.id}-{existing.first_vintage}"
            if (
                existing != entitlement
                or not sees(uow, actor, existing.party_code)
                or not booked_on(uow, first, business_date)
            ):
                raise RecordExists(f"entitlement {entitlement.id} exists", field="id")
            return Created(existing, replayed=True)
        party = visible_party(uow, actor, entitlement.party_code)
        check_pollutant(entitlement.pollutant)
        if entitlement.last_vintage < entitlement.first_vintage:
            raise InvalidField("the validity ends before it starts", field="last_vintage")
        moment = effective_at(uow, business_date)
        size = Decimal(entitlement.units).scaleb(-scale_of(entitlement.pollutant))  # t/a
        needed = size > uow.four_eyes.allocation_threshold_t
        payload = _with_date(to_payload(entitlement), business_date)
        pending = gate(uow, actor, ALLOCATION, payload, key=entitlement.id, needed=needed)
        if pending is not None:
            return pending
        codes = ensure_instruments(uow, entitlement.pollutant, entitlement.vintages)
        check_not_expired(uow, codes)
        uow.registry.add_entitlement(entitlement, uow.now())
        references = [Reference("entitlement", entitlement.id)]
        if entitlement.permit:
            references.append(Reference("permit", entitlement.permit))
        source = account_code(PROVINCE, ISSUANCE)
        _post(
            uow,
            [
                journal.PostEntry(
                    entry_id=f"entitlement-{entitlement.id}-{vintage}",
                    entry_type="allocation",
                    postings=tuple(move(source, rights_account(party), code, entitlement.units, 3)),
                    references=tuple(references),
                    effective_at=moment,
                )
                for vintage, code in zip(entitlement.vintages, codes, strict=True)
            ],
        )
        return Created(entitlement)

    return in_transaction(uow_factory, work, actor=actor)


def run_approved_allocation(
    uow_factory: UnitOfWorkFactory, actor: Actor, payload: Mapping[str, Any]
) -> Created[Entitlement] | Pending:
    day = payload.get(BUSINESS_DATE)
    entitlement = from_payload(Entitlement, payload)
    return confirm_entitlement(uow_factory, actor, entitlement, _day(day))


def _with_date(payload: dict[str, Any], day: date | None) -> dict[str, Any]:
    """A four-eyes payload that carries the record's business date (when it has one)."""
    return payload if day is None else {**payload, BUSINESS_DATE: day.isoformat()}


def _day(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


@use_case("entitlements.list")
def list_entitlements(  # noqa: PLR0917 - query filters
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    party: str | None,
    pollutant: str | None,
    cursor: str | None,
    limit: int,
) -> Page[Entitlement]:
    after = decode_cursor("entitlements", cursor)
    check_page_size(limit)
    rows = read(
        uow_factory,
        lambda uow: uow.registry.list_entitlements(
            party, pollutant, after, limit, scope=actor.scope
        ),
    )
    return keyset_page("entitlements", rows, limit)


@use_case("carbon.issue")
def issue_carbon(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    allocation_id: str,
    *,
    party_code: str,
    family: str,
    year: int | None,
    units: int,
    business_date: date | None = None,
) -> Created[int]:
    """Allocate CEA of a compliance year, less what it deducts of earlier shortfalls not yet
    deducted (rules §7.9: each deduction a record of its own), or issue CCER, effective on
    `business_date` (the allocation date); answers the units issued (0 if the deductions take
    it all). The same allocation again answers the same."""

    def work(uow: UnitOfWork) -> Created[int]:
        party = visible_party(uow, actor, party_code)
        if family not in (CARBON, "CCER"):
            raise InvalidField(f"{family} is not a carbon unit", field="family")
        moment = effective_at(uow, business_date)
        codes = ensure_instruments(uow, family, [year if family == CARBON else None])
        entry_id = f"allocation-{allocation_id}"
        made_before = entry_id in uow.journal.get_many([entry_id])
        deductions = uow.registry.deductions_of_allocation(allocation_id)
        replay = made_before or bool(deductions)
        if replay:  # a retry: answer what the allocation did, never deduct again
            compliance.check_same_allocation(deductions, party.code, year, units)
        elif family == CARBON and year is not None:
            deductions = compliance.deduct_shortfalls(uow, allocation_id, party.code, year, units)
        deducted = sum(d.units for d in deductions)
        issued = units - deducted
        if not issued:
            return Created(0, replayed=replay)
        entry = journal.PostEntry(
            entry_id=entry_id,
            entry_type="allocation" if family == CARBON else "offset_issuance",
            postings=tuple(
                move(account_code(PROVINCE, ISSUANCE), rights_account(party), codes[0], issued, 0)
            ),
            references=(
                Reference("allocation", allocation_id),
                *(Reference("obligation", d.obligation_id) for d in deductions),
            ),
            metadata={"free_allocation": units, "deducted": deducted},
            effective_at=moment,
        )
        return Created(issued, replayed=_post(uow, [entry], retry_safe=True)[1])

    return in_transaction(uow_factory, work, actor=actor)


@dataclass(frozen=True, slots=True)
class Deposit:
    """Cash paid in at the exchange for a party, booked as entry `entry_id`."""

    id: str
    party_code: str
    fen: int
    entry_id: str


@use_case("deposits.record")
def deposit_cash(  # noqa: PLR0917 - the deposit and its date
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    deposit_id: str,
    party_code: str,
    fen: int,
    business_date: date | None = None,
) -> Created[Deposit]:
    """Cash paid into a party's account at the exchange (its members' deposits), effective on
    `business_date` (the day it was paid in)."""

    def work(uow: UnitOfWork) -> Created[Deposit]:
        party = visible_party(uow, actor, party_code)
        moment = effective_at(uow, business_date)
        party_of(uow, EXCHANGE, field="exchange")
        cash = account_code(party.code, BUDGET if party.kind is PartyKind.AUTHORITY else "cash")
        ensure_instruments(uow, CASH, [None])
        entry = journal.PostEntry(
            entry_id=f"deposit-{deposit_id}",
            entry_type="deposit",
            postings=tuple(move(account_code(EXCHANGE, DEPOSITS), cash, CASH, fen, 2)),
            references=(Reference("deposit", deposit_id),),
            effective_at=moment,
        )
        replayed = _post(uow, [entry], retry_safe=True)[1]
        return Created(Deposit(deposit_id, party.code, fen, entry.entry_id), replayed)

    return in_transaction(uow_factory, work, actor=actor)


# -- pledges ------------------------------------------------------------------------------------


@use_case("pledges.create")
def pledge(
    uow_factory: UnitOfWorkFactory, actor: Actor, record: Pledge, business_date: date | None = None
) -> Created[Pledge]:
    """Pledge rights (t/a in each vintage of the pledge): they move to the pledged account,
    effective on `business_date` (future vintages may be pledged: they stay the holder's)."""

    def work(uow: UnitOfWork) -> Created[Pledge]:
        existing = uow.registry.get_pledge(record.id)
        if existing is not None:
            same = existing == record and booked_on(uow, f"pledge-{record.id}", business_date)
            if not same or not sees(uow, actor, existing.party_code):
                raise RecordExists(f"pledge {record.id} exists", field="id")
            return Created(existing, replayed=True)
        party = visible_party(uow, actor, record.party_code)
        moment = effective_at(uow, business_date)
        codes = ensure_instruments(uow, check_pollutant(record.pollutant), record.vintages)
        check_not_expired(uow, codes)
        holdings = account_code(party.code, HOLDINGS)
        check_can_give(uow, party.code, holdings, codes, record.units)
        uow.registry.add_pledge(record, uow.now())
        pledged = account_code(party.code, PLEDGED)
        postings = [p for c in codes for p in move(holdings, pledged, c, record.units, 3)]
        entry = _entry(f"pledge-{record.id}", "pledge", postings, ("pledge", record.id), moment)
        _post(uow, [entry])
        return Created(record)

    return in_transaction(uow_factory, work, actor=actor)


def _visible_pledge(uow: UnitOfWork, actor: Actor, pledge_id: str) -> Pledge:
    record = uow.registry.get_pledge(pledge_id)
    if record is None or not sees(uow, actor, record.party_code):
        raise RecordNotFound(f"pledge {pledge_id!r} not found", field="pledge_id")
    return record


@use_case("pledges.release")
def release_pledge(
    uow_factory: UnitOfWorkFactory, actor: Actor, pledge_id: str, business_date: date | None = None
) -> Pledge:
    """Release a pledge: the rights return to the holdings account, effective on
    `business_date` (not before the pledge). The same release again (no date, or the date it
    took effect) is answered with the released pledge, so a client that lost the answer may
    retry; a release on another date is `PledgeAlreadyReleased`."""

    def work(uow: UnitOfWork) -> Pledge:
        record = _visible_pledge(uow, actor, pledge_id)
        if record.released:  # a retry is answered before any rule that time can break
            if not booked_on(uow, f"pledge-{pledge_id}-release", business_date):
                raise PledgeAlreadyReleased(
                    f"pledge {pledge_id} was already released", field="state"
                )
            return record
        moment = effective_at(uow, business_date)
        made = uow.journal.get_many([f"pledge-{pledge_id}"]).get(f"pledge-{pledge_id}")
        if moment is not None and made is not None and moment < made.effective_at:
            raise InvalidField("a pledge is released after it was made", field=BUSINESS_DATE)
        codes = [instrument_code(record.pollutant, v) for v in record.vintages]
        holdings = account_code(record.party_code, HOLDINGS)
        pledged = account_code(record.party_code, PLEDGED)
        postings = [p for c in codes for p in move(pledged, holdings, c, record.units, 3)]
        entry_id = f"pledge-{pledge_id}-release"
        _post(uow, [_entry(entry_id, "pledge_release", postings, ("pledge", pledge_id), moment)])
        uow.registry.release_pledge(pledge_id)
        return uow.registry.get_pledge(pledge_id) or record

    return in_transaction(uow_factory, work, actor=actor)


@use_case("pledges.list")
def list_pledges(  # noqa: PLR0917 - query filters
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    party: str | None,
    pollutant: str | None,
    cursor: str | None,
    limit: int,
) -> Page[Pledge]:
    after = decode_cursor("pledges", cursor)
    check_page_size(limit)
    rows = read(
        uow_factory,
        lambda uow: uow.registry.list_pledges(party, pollutant, after, limit, scope=actor.scope),
    )
    return keyset_page("pledges", rows, limit)


def _entry(
    entry_id: str,
    entry_type: str,
    postings: Sequence[PostingRequest],
    reference: tuple[str, str],
    moment: datetime | None = None,
) -> journal.PostEntry:
    return journal.PostEntry(
        entry_id=entry_id,
        entry_type=entry_type,
        postings=tuple(postings),
        references=(Reference(*reference),),
        effective_at=moment,
    )


# -- reserve operations ---------------------------------------------------------------------


class ReserveAction(Enum):
    """What a regulator does with rights, and the entry type it books."""

    SALE = "reserve_sale"  # reserve → enterprise, enterprise pays the authority (revenue)
    BUY_BACK = "buy_back"  # enterprise → reserve, the authority pays from its budget
    RECLAIM = "reclaim"  # free surplus: enterprise → reserve, no payment
    CONFISCATION = "confiscation"  # enterprise → cancellation
    CANCELLATION = "cancellation"  # reserve → cancellation


# The reserve operations that wait for a second regulator (`FourEyesPolicy`): those that destroy
# rights, and the buy-back, which pays public money.
FOUR_EYES_ACTIONS = frozenset(
    {ReserveAction.CONFISCATION, ReserveAction.CANCELLATION, ReserveAction.BUY_BACK}
)
# The reserve operations that take back an enterprise's surplus, held to what it may give.
TAKING_BACK = frozenset({ReserveAction.RECLAIM, ReserveAction.BUY_BACK})


@dataclass(frozen=True, slots=True)
class ReserveOperation:
    """A regulator's decision `id` moving `units` per vintage of a pollutant."""

    id: str
    action: ReserveAction
    authority: str
    pollutant: str
    units: int
    first_vintage: int
    last_vintage: int
    party: str | None = None  # the enterprise (none for a cancellation from the reserve)
    price_fen: int = 0  # per t, for sales and buy-backs
    business_date: date | None = None  # the decision's date: its entry takes effect then
    entitlement: str | None = None  # whose surplus a reclaim or a buy-back takes back


@use_case("reserve.operate")
def reserve_operation(
    uow_factory: UnitOfWorkFactory, actor: Actor, op: ReserveOperation
) -> Created[list[EntryRecord]] | Pending:
    """Book an authority's reserve operation as one entry referencing its decision, as that
    authority. Confiscations and cancellations destroy rights, and a buy-back pays public money
    from a budget that may go below zero: four eyes (each configurable, on by default). A sale's
    price is refused below its floor, a buy-back's above its ceiling, and what a reclaim or
    buy-back takes back is checked against what the party may give (`_check_surplus`), before
    anyone is asked."""

    def work(uow: UnitOfWork) -> Created[list[EntryRecord]] | Pending:
        if actor.party is not None:
            acting_as(actor, op.authority, field="authority")
        authority = party_of(uow, op.authority, field="authority")
        if authority.kind is not PartyKind.AUTHORITY:
            raise InvalidField(f"{op.authority} is not an authority", field="authority")
        party = op.party or op.authority
        receiver = authority
        if op.action is not ReserveAction.CANCELLATION:
            receiver = visible_party(uow, actor, party)
        entry_id = f"{op.action.value}-{op.id}"
        vintages = range(op.first_vintage, op.last_vintage + 1)
        # A sale is a trade from the reserve (not before its vintages); taking rights back
        # covers a holder's future vintages too (a closed firm's remaining years).
        sold = vintages if op.action is ReserveAction.SALE else ()
        moment = effective_at(uow, op.business_date, vintages=sold)
        _check_decision_free(uow, op)
        _check_price(op, policy_of(uow))
        locked = None
        if not uow.journal.get_many([entry_id]):  # a retry of a booked one replays below
            if op.action in TAKING_BACK:
                # Before a second regulator is asked, not only when they approve; under the
                # lock of what the booking moves (`_lock_taken_back`), so that two at once
                # cannot both pass and together take back more than there is.
                locked = _lock_taken_back(uow, op, party)
                _check_surplus(uow, op, party)
            needed = op.action in FOUR_EYES_ACTIONS
            payload = to_payload(op)
            pending = gate(uow, actor, op.action.value, payload, key=op.id, needed=needed)
            if pending is not None:
                return pending
        codes = ensure_instruments(uow, check_pollutant(op.pollutant), vintages)
        check_not_expired(uow, codes)
        source, destination = _route(op, party)
        postings = [p for c in codes for p in move(source, destination, c, op.units, 3)]
        postings += _payment(op, party)
        entry = _entry(entry_id, op.action.value, postings, ("decision", op.id), moment)
        if op.entitlement:
            entry = replace(
                entry,
                references=(*entry.references, Reference("entitlement", op.entitlement)),
                metadata={
                    "units": op.units,
                    "first_vintage": op.first_vintage,
                    "last_vintage": op.last_vintage,
                },
            )
        stored = uow.journal.get_many([entry_id])
        if stored and journal.is_replay(uow, [entry], stored):
            return Created([stored[entry_id]], replayed=True)
        giver = op.authority if source.endswith(RESERVE.suffix) else party
        day = op.business_date or beijing_date(uow.now())  # the decision's date
        if op.action is ReserveAction.SALE:
            # A reserve sale is a way of receiving rights: the rules of a trade's buyer apply
            # (its city in the year of the sale, enforcement), on the day of the sale.
            check_may_receive(uow, op.pollutant, authority, receiver, day.year, policy_of(uow))
            blocks.check_transfer(uow, authority.code, receiver.code, op.pollutant, day)
        if op.action in TAKING_BACK:
            blocks.check_transfer(uow, party, authority.code, op.pollutant, day)
        held = None if locked is None else locked.by_code()
        check_can_give(uow, giver, source, codes, op.units, locked=held)
        return Created(_post(uow, [entry], locked=locked)[0])

    return in_transaction(uow_factory, work, actor=actor)


def _lock_taken_back(uow: UnitOfWork, op: ReserveOperation, party: str) -> journal.LockedBalances:
    """Lock, in the one ordered lock (`journal.lock`), every balance a reclaim or buy-back
    books (the party's holdings and the reserve in each vintage, the price's cash leg) and the
    party's pledged rights, before its checks read anything. Two operations taking back the
    same rights lock the same holdings rows: the second waits for the first's commit, and its
    checks count the first's booking (read committed: each statement sees what was committed
    before it; serializable: the lock of a row changed meanwhile fails and the whole
    operation is retried). No deadlock: one statement, in key order, before any other
    balance lock of the transaction; the booking writes against these locks."""
    vintages = range(op.first_vintage, op.last_vintage + 1)
    codes = ensure_instruments(uow, check_pollutant(op.pollutant), vintages)
    source, destination = _route(op, party)
    pledged = account_code(party, PLEDGED)
    pairs = [(account, code) for code in codes for account in (source, destination, pledged)]
    pairs += [(p.account_code, p.instrument_code) for p in _payment(op, party)]
    return journal.lock(uow, pairs)


def _check_surplus(uow: UnitOfWork, op: ReserveOperation, party: str) -> None:
    """Rules §4, §7.11: free rights are reclaimed (no payment), paid rights bought back. A
    reclaim or buy-back naming the entitlement whose surplus it takes back is held to it: its
    acquisition, pollutant and vintages, and never more in a vintage than it confirmed (earlier
    reclaims and buy-backs of it counted). One naming none: a reclaim needs a free entitlement
    of the party covering the vintages; a buy-back takes back only rights the party bought
    (rights bought in trades or reserve sales are paid and carry no entitlement of their own)."""
    expected = Acquisition.FREE if op.action is ReserveAction.RECLAIM else Acquisition.PAID
    if not op.entitlement:
        if expected is Acquisition.PAID:
            _check_bought(uow, op, party)
        elif not any(
            e.acquisition is Acquisition.FREE and _covers(e, op)
            for _, e in uow.registry.list_entitlements(party, op.pollutant, 0, PAGE_SIZE_MAX)
        ):
            raise AcquisitionMismatch(
                f"{party} holds no free {op.pollutant} entitlement for "
                f"{op.first_vintage}–{op.last_vintage}: paid rights are bought back",
                field="action",
            )
        return
    entitlement = uow.registry.get_entitlement(op.entitlement)
    if entitlement is None or entitlement.party_code != party:
        raise InvalidField(f"{party} has no entitlement {op.entitlement!r}", field="entitlement")
    if not _covers(entitlement, op):
        raise InvalidField(
            f"entitlement {entitlement.id} confirms no {op.pollutant} in "
            f"{op.first_vintage}–{op.last_vintage}",
            field="entitlement",
        )
    if entitlement.acquisition is not expected:
        way = "reclaimed" if entitlement.acquisition is Acquisition.FREE else "bought back"
        raise AcquisitionMismatch(
            f"entitlement {entitlement.id} was acquired {entitlement.acquisition.value}: its "
            f"surplus is {way}",
            field="action",
        )
    taken = uow.registry.taken_back(entitlement.id)
    for vintage in range(op.first_vintage, op.last_vintage + 1):
        before = sum(units for first, last, units in taken if first <= vintage <= last)
        if before + op.units > entitlement.units:
            raise SurplusExceeded(
                f"the {op.action.value} would take back more of entitlement {entitlement.id} in "
                f"{vintage} than it confirmed",
                field="quantity",
            )


def _check_bought(uow: UnitOfWork, op: ReserveOperation, party: str) -> None:
    """A buy-back naming no entitlement pays only for rights the party paid for: in no vintage
    more than it bought (settled trades at a price, paid reserve sales) net of what it sold in
    trades and earlier such buy-backs. Holdings are fungible, so the count is conservative: a
    sold tonne counts as a bought one; a paid entitlement is named instead."""
    codes = [instrument_code(op.pollutant, v) for v in range(op.first_vintage, op.last_vintage + 1)]
    bought = uow.registry.paid_rights(party, op.pollutant, codes)
    for code in codes:
        if bought[code] < op.units:
            shown = Decimal(max(bought[code], 0)).scaleb(-scale_of(op.pollutant))
            raise RightsNotPaidFor(
                f"{party} shows {shown} t/a of {code} bought and not yet sold or bought back: "
                "free rights are reclaimed, and a paid "
                "entitlement's surplus is bought back naming it",
                field="quantity",
            )


def _covers(entitlement: Entitlement, op: ReserveOperation) -> bool:
    return entitlement.pollutant == op.pollutant and (
        entitlement.first_vintage <= op.first_vintage <= op.last_vintage <= entitlement.last_vintage
    )


def _check_decision_free(uow: UnitOfWork, op: ReserveOperation) -> None:
    """A decision's id names one operation: booked as another action, it is taken."""
    others = [f"{action.value}-{op.id}" for action in ReserveAction if action is not op.action]
    if uow.journal.get_many(others):
        raise RecordExists(f"decision {op.id} was booked as another operation", field="id")


def run_approved_reserve_operation(
    uow_factory: UnitOfWorkFactory, actor: Actor, payload: Mapping[str, Any]
) -> Created[list[EntryRecord]] | Pending:
    return reserve_operation(uow_factory, actor, from_payload(ReserveOperation, payload))


def _route(op: ReserveOperation, party: str) -> tuple[str, str]:
    reserve = account_code(op.authority, RESERVE)
    holdings = account_code(party, HOLDINGS)
    return {
        ReserveAction.SALE: (reserve, holdings),
        ReserveAction.BUY_BACK: (holdings, reserve),
        ReserveAction.RECLAIM: (holdings, reserve),
        ReserveAction.CONFISCATION: (holdings, account_code(op.authority, CANCELLATION)),
        ReserveAction.CANCELLATION: (reserve, account_code(op.authority, CANCELLATION)),
    }[op.action]


def _check_price(op: ReserveOperation, policy: Policy) -> None:
    """A sale sells at its floor or above; a buy-back pays at most its ceiling (none set: no
    price at all), so that one decision cannot pay out public money at any price."""
    if op.action is ReserveAction.SALE:
        floor = policy.floor_fen_per_t.get(op.pollutant, 0)
        if op.price_fen < floor:
            raise PriceBelowFloor(
                f"{op.price_fen / 100:.2f} CNY/t is below the {op.pollutant} floor", field="price"
            )
    if op.action is ReserveAction.BUY_BACK:
        ceiling = policy.buy_back_ceiling_fen_per_t.get(op.pollutant, 0)
        if op.price_fen > ceiling:
            raise PriceAboveCeiling(
                f"{op.price_fen / 100:.2f} CNY/t is above the {op.pollutant} buy-back ceiling "
                f"of {ceiling / 100:.2f} CNY/t",
                field="price",
            )


def _payment(op: ReserveOperation, party: str) -> list[PostingRequest]:
    """The CNY leg of a sale or buy-back: price × t/a, once for all the vintages."""
    if op.action not in (ReserveAction.SALE, ReserveAction.BUY_BACK) or op.price_fen == 0:
        return []
    fen = trade_value_fen(op.price_fen, op.units, scale_of(op.pollutant))
    enterprise_cash = account_code(party, CASH_ACCOUNT)
    if op.action is ReserveAction.SALE:
        return move(enterprise_cash, account_code(op.authority, REVENUE), CASH, fen, 2)
    return move(account_code(op.authority, BUDGET), enterprise_cash, CASH, fen, 2)


EXPIRING_SUFFIXES = (HOLDINGS.suffix, PLEDGED.suffix, RESERVE.suffix)
HOLDERS_PER_EXPIRY_ENTRY = 30  # 2 postings each, within POSTINGS_PER_ENTRY_MAX


@use_case("vintages.expire")
def expire_vintage(uow_factory: UnitOfWorkFactory, actor: Actor, family: str, vintage: int) -> int:
    """Retire every unit of a past vintage still held (holdings, pledged, reserves) to the
    province's retirement account, in one batch; afterwards the vintage can no longer move.
    Returns the number of accounts emptied."""

    def work(uow: UnitOfWork) -> int:
        code = instrument_code(family, vintage)
        if not uow.instruments.get_many([code]):
            raise InvalidField(f"no instrument {code}", field="vintage")
        retirement = account_code(PROVINCE, RETIREMENT)
        holders = [
            line
            for line in uow.journal.trial_balance(code)
            if line.credit > 0 and line.account_code.rsplit(":", 1)[-1] in EXPIRING_SUFFIXES
        ]
        entries = []
        # Numbered on from any earlier expiry of this vintage (units can come back to holders
        # afterwards, say by reversing the expiry entry), so a second expiry never reuses an id.
        first = 0
        while uow.journal.get_many([f"expiry-{code}-{first}"]):
            first += 1
        for start in range(0, len(holders), HOLDERS_PER_EXPIRY_ENTRY):
            chunk = holders[start : start + HOLDERS_PER_EXPIRY_ENTRY]
            postings = [
                p
                for line in chunk
                for p in move(line.account_code, retirement, code, line.credit, scale_of(family))
            ]
            entry_id = f"expiry-{code}-{first + start // HOLDERS_PER_EXPIRY_ENTRY}"
            entries.append(_entry(entry_id, "vintage_expiry", postings, ("vintage", code)))
        if entries:
            _post(uow, entries)
        mark_expired(uow, code)
        return len(holders)

    return in_transaction(uow_factory, work, actor=actor)
