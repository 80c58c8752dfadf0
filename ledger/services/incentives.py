"""Tax incentives in the ledger: booking on a verified basis, the CIT equipment credit, its
clawback, and the reversal of everything that rested on an invalidated report.

Accounts (CNY, fen; opened on first use):

| account | normal side | balance means |
|---|---|---|
| `{enterprise}:tax_incentives` | credit | Article 13 reductions granted to the enterprise |
| `{enterprise}:equipment_credit` | credit | CIT equipment credit granted |
| `HEBEI:tax_expenditure` | debit | tax forgone by the province (its tax expenditure) |

An incentive is one `tax_incentive` entry (expenditure debited, enterprise credited) that
references the incentive, its basis record (return or equipment) and every verified report it
rests on. A reversal (`tax_incentive_reversal`, or `tax_incentive_clawback`) swaps the sides.
The incentive's CNY is not cash: the accounts hold only it, so it never mixes with deposits.

Every use case takes the acting `Actor`; what lies outside its scope does not exist for it.
Booking an incentive and granting an equipment credit are idempotent on their ids: the same
request again answers the stored incentive as a replay, another one under the id is a 409. Both
book the province's tax expenditure on a regulator's figures: four eyes (`tax_incentive`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from ledger.domain.access import Actor, Pending
from ledger.domain.accounts import Side
from ledger.domain.entries import Reference
from ledger.domain.errors import InvalidField, RecordExists
from ledger.domain.finance import beijing_date
from ledger.domain.incentives import (
    AcquiredInFuture,
    ClawbackNotDue,
    CreditYear,
    Incentive,
    IncentiveAlreadyReversed,
    IncentiveBasis,
    IncentiveKind,
    IncentiveNotFound,
    IncentiveRegistered,
    NotAnEnterprise,
    Reversal,
    ReversalReason,
    carry_forward,
    check_within_basis,
    clawback_due,
    equipment_credit_fen,
    same_thing_key,
)
from ledger.domain.pages import Created, Page, check_page_size, decode_cursor, keyset_page
from ledger.domain.payloads import from_payload, to_payload
from ledger.domain.ports import AccountDraft, UnitOfWork, UnitOfWorkFactory
from ledger.domain.registry import CASH, PROVINCE, PartyKind, account_code
from ledger.services import journal
from ledger.services.authority import gate, party_in_scope, sees, use_case, visible_party
from ledger.services.parties import ensure_instruments, lock_balances, move
from ledger.services.transactions import in_transaction, read

TAX_EXPENDITURE = "tax_expenditure"
# The four-eyes operation of whatever books the province's tax expenditure on a regulator's
# figures (`FourEyesPolicy`): an equipment credit here, a retrofit project and its years and a
# credit year in `income_tax`.
TAX_INCENTIVE = "tax_incentive"
ACCOUNT_OF_KIND = {
    IncentiveKind.ARTICLE_13: "tax_incentives",
    IncentiveKind.EQUIPMENT_CREDIT: "equipment_credit",
}
ENTRY_TYPE = "tax_incentive"
REVERSAL_ENTRY_TYPE = {
    ReversalReason.REPORT_INVALIDATED: "tax_incentive_reversal",
    ReversalReason.REPORT_CORRECTED: "tax_incentive_reversal",
    ReversalReason.CLAWBACK: "tax_incentive_clawback",
}
# The reversal entry's id: `incentive-{id}-{suffix}` (an incentive is reversed once).
REVERSAL_SUFFIX = {
    ReversalReason.REPORT_INVALIDATED: "report",
    ReversalReason.REPORT_CORRECTED: "amended",
    ReversalReason.CLAWBACK: "clawback",
}


# -- accounts and entries ---------------------------------------------------------------------


def _ensure_accounts(uow: UnitOfWork, party: str, kind: IncentiveKind) -> tuple[str, str]:
    """(province's expenditure account, the enterprise's account of this kind), opened if new."""
    ensure_instruments(uow, CASH, [None])
    expenditure = account_code(PROVINCE, TAX_EXPENDITURE)
    holder = account_code(party, ACCOUNT_OF_KIND[kind])
    wanted = {
        expenditure: AccountDraft(
            expenditure, PROVINCE, "Hebei: tax expenditure", Side.DEBIT, False, CASH
        ),
        holder: AccountDraft(
            holder, party, f"{party}: {kind.value.replace('_', ' ')}", Side.CREDIT, True, CASH
        ),
    }
    known = uow.accounts.get_many(wanted)
    for code, draft in wanted.items():
        if code not in known:
            uow.accounts.add(draft, uow.now())
    return expenditure, holder


def _references(incentive_id: str, basis: IncentiveBasis) -> tuple[Reference, ...]:
    refs = [Reference("incentive", incentive_id)]
    if basis.return_id is not None:
        refs.append(Reference("tax_return", basis.return_id))
    if basis.equipment_id is not None:
        refs.append(Reference("equipment", basis.equipment_id))
    refs += [Reference("emission_report", report) for report in basis.report_ids]
    return tuple(refs)


def _entry(  # noqa: PLR0917 - an incentive's inputs
    basis: IncentiveBasis,
    incentive_id: str,
    amount_fen: int,
    memo: str,
    details: Mapping[str, Any],
    also: tuple[Reference, ...] = (),
) -> journal.PostEntry:
    """The `tax_incentive` entry booking `amount_fen` on `basis` as incentive `incentive_id`."""
    expenditure = account_code(PROVINCE, TAX_EXPENDITURE)
    holder = account_code(basis.party, ACCOUNT_OF_KIND[basis.kind])
    return journal.PostEntry(
        entry_id=f"incentive-{incentive_id}",
        entry_type=ENTRY_TYPE,
        postings=tuple(move(expenditure, holder, CASH, amount_fen, 2)),
        memo=memo,
        references=_references(incentive_id, basis) + also,
        metadata={
            "kind": basis.kind.value,
            "basis": basis.id,
            "basis_fen": basis.cap_fen,
            **details,
        },
    )


def book_in(  # noqa: PLR0917 - an incentive's inputs
    uow: UnitOfWork,
    basis_id: str,
    incentive_id: str,
    amount_fen: int,
    memo: str = "",
    details: Mapping[str, Any] | None = None,
    also: tuple[Reference, ...] = (),
) -> Incentive:
    """Inside the caller's unit of work: book `amount_fen` on a basis, within what it supports
    (`details`: more of the request, kept in the entry's metadata; `also`: more references)."""
    basis = uow.tax.get_basis(basis_id, lock=True)
    if basis is None:
        raise IncentiveNotFound(f"incentive basis {basis_id!r} not found", field="basis_id")
    if uow.tax.get_incentive(incentive_id) is not None:
        raise RecordExists(f"incentive {incentive_id} exists", field="id")
    check_within_basis(basis, uow.tax.active_fen(basis.id), amount_fen)
    _ensure_accounts(uow, basis.party, basis.kind)
    entry = _entry(basis, incentive_id, amount_fen, memo, details or {}, also)
    (record,) = journal.write_in(uow, [entry])
    incentive = Incentive(
        id=incentive_id,
        basis_id=basis.id,
        kind=basis.kind,
        party=basis.party,
        amount_fen=amount_fen,
        basis_fen=basis.cap_fen,
        entry_id=record.entry_id,
        booked_at=record.recorded_at,
        report_ids=basis.report_ids,
    )
    uow.tax.add_incentive(incentive)
    return incentive


def _reverse_in(  # noqa: PLR0917 - a reversal's inputs
    uow: UnitOfWork,
    incentive: Incentive,
    reason: ReversalReason,
    detail: str,
    report: str | None,
    also: tuple[Reference, ...] = (),
    noted: Mapping[str, Any] | None = None,
) -> Incentive:
    if not incentive.active:
        raise IncentiveAlreadyReversed(f"incentive {incentive.id} was reversed", field="id")
    _ensure_accounts(uow, incentive.party, incentive.kind)
    entry = _reversal_entry(incentive, reason, detail, also, noted or {})
    (record,) = journal.write_in(uow, [entry])
    reversal = Reversal(reason, record.entry_id, record.recorded_at, detail, report)
    uow.tax.add_reversal(incentive.id, reversal)
    return replace(incentive, reversal=reversal)


def _reversal_entry(
    incentive: Incentive,
    reason: ReversalReason,
    detail: str,
    also: tuple[Reference, ...],
    noted: Mapping[str, Any],
) -> journal.PostEntry:
    """The entry reversing `incentive` (`noted`: more of the request, kept in its metadata)."""
    expenditure = account_code(PROVINCE, TAX_EXPENDITURE)
    holder = account_code(incentive.party, ACCOUNT_OF_KIND[incentive.kind])
    return journal.PostEntry(
        entry_id=f"incentive-{incentive.id}-{REVERSAL_SUFFIX[reason]}",
        entry_type=REVERSAL_ENTRY_TYPE[reason],
        postings=tuple(move(holder, expenditure, CASH, incentive.amount_fen, 2)),
        memo=detail[:500],
        references=(
            Reference("incentive", incentive.id),
            Reference("entry", incentive.entry_id),
            *(Reference("emission_report", r) for r in incentive.report_ids),
            *also,
        ),
        metadata={"reverses": incentive.entry_id, "reason": reason.value, **noted},
    )


# -- invalidation ---------------------------------------------------------------------------


def reverse_for_report(uow: UnitOfWork, report_id: str, reason: str) -> list[Incentive]:
    """Inside the invalidation's unit of work: void every basis resting on `report_id` (no
    incentive may be booked on it again) and reverse each of its active incentives."""
    reversed_: list[Incentive] = []
    for basis in uow.tax.bases_of_report(report_id):
        locked = uow.tax.get_basis(basis.id, lock=True) or basis
        if not locked.void:
            uow.tax.void_basis(basis.id, report_id, reason or "report invalidated", uow.now())
        for incentive in uow.tax.incentives_of_basis(basis.id):
            if incentive.active:
                detail = f"report {report_id} invalidated: {reason}"
                reversed_.append(
                    _reverse_in(
                        uow, incentive, ReversalReason.REPORT_INVALIDATED, detail, report_id
                    )
                )
    return reversed_


def reverse_for_amendment(
    uow: UnitOfWork,
    amended: str,
    amending: str | None,
    report_id: str | None,
    *,
    cause: str | None = None,
) -> list[Incentive]:
    """Inside the correction's unit of work: the return `amended` rested on `report_id`, which a
    verified correction superseded. Void its basis and reverse its active incentives, each
    reversal referencing both returns (`amending`: the amended return, if it could be made).
    `cause` says why otherwise (a penalty-basis event recorded after filing: no report)."""
    basis = uow.tax.basis_of_return(amended)
    if basis is None:
        return []
    locked = uow.tax.get_basis(basis.id, lock=True) or basis
    why = cause or f"report {report_id} corrected"
    reason = why + (f": amended by {amending}" if amending else "")
    if not locked.void:
        uow.tax.void_basis(basis.id, report_id, reason, uow.now())
    returns = [Reference("tax_return", amended)]
    if amending is not None:
        returns.append(Reference("tax_return", amending))
    return [
        _reverse_in(uow, i, ReversalReason.REPORT_CORRECTED, reason, report_id, also=tuple(returns))
        for i in uow.tax.incentives_of_basis(basis.id)
        if i.active
    ]


# -- use cases ------------------------------------------------------------------------------


@use_case("incentives.book")
def book_incentive(
    uow_factory: UnitOfWorkFactory, actor: Actor, basis_id: str, incentive_id: str, amount_fen: int
) -> Created[Incentive] | Pending:
    """Book an incentive on an existing basis (refused beyond what the basis supports): the
    province's tax expenditure on a regulator's word (a clawed-back credit's basis has room
    again), so four eyes (`tax_incentive`)."""

    def work(uow: UnitOfWork) -> Created[Incentive] | Pending:
        stored = uow.tax.get_incentive(incentive_id)
        if stored is not None:
            same = (stored.basis_id, stored.amount_fen) == (basis_id, amount_fen)
            if not same or not sees(uow, actor, stored.party):
                raise RecordExists(f"incentive {incentive_id} exists", field="id")
            return Created(stored, replayed=True)
        basis = uow.tax.get_basis(basis_id)
        if basis is None:
            raise IncentiveNotFound(f"incentive basis {basis_id!r} not found", field="basis_id")
        check_within_basis(basis, uow.tax.active_fen(basis.id), amount_fen)
        payload = {
            "incentive": "incentive",
            "basis_id": basis_id,
            "id": incentive_id,
            "amount_fen": amount_fen,
        }
        pending = gate(uow, actor, TAX_INCENTIVE, payload, key=f"incentive:{incentive_id}")
        if pending is not None:
            return pending
        return Created(book_in(uow, basis_id, incentive_id, amount_fen))

    return in_transaction(uow_factory, work, actor=actor)


def run_approved_incentive(
    uow_factory: UnitOfWorkFactory, actor: Actor, payload: Mapping[str, Any]
) -> Created[Incentive] | Pending:
    """The approved booking, run again for its initiator."""
    return book_incentive(
        uow_factory, actor, payload["basis_id"], payload["id"], int(payload["amount_fen"])
    )


@dataclass(frozen=True, slots=True)
class EquipmentInvestment:
    """A qualifying investment in catalogue environmental-protection equipment."""

    id: str  # the equipment (or its acquisition) id
    party: str
    investment_fen: int
    acquired_on: date
    description: str = ""


@use_case("equipment_credits.grant")
def grant_equipment_credit(
    uow_factory: UnitOfWorkFactory, actor: Actor, investment: EquipmentInvestment
) -> Created[Incentive] | Pending:
    """Book the CIT credit of 10% of the investment (rounded down to the fen): the province's
    tax expenditure, on one regulator's figures, so four eyes (`tax_incentive`). Refused for a
    party that is no enterprise, an acquisition after today, and equipment the enterprise has a
    credit for under another id (the same description), before anyone is asked."""

    def work(uow: UnitOfWork) -> Created[Incentive] | Pending:
        party = visible_party(uow, actor, investment.party)
        basis = IncentiveBasis(
            id=f"equipment-{investment.id}",
            kind=IncentiveKind.EQUIPMENT_CREDIT,
            party=investment.party,
            cap_fen=equipment_credit_fen(investment.investment_fen),
            equipment_id=investment.id,
            acquired_on=investment.acquired_on,
        )
        incentive_id = f"eq-{investment.id}"
        memo, details = investment.description, {"investment_fen": investment.investment_fen}
        credited = uow.tax.get_basis(basis.id)
        if credited is not None:
            entry = _entry(basis, incentive_id, basis.cap_fen, memo, details)
            return _granted_already(uow, credited == basis, incentive_id, entry)
        if party.kind is not PartyKind.ENTERPRISE:
            raise NotAnEnterprise(f"{party.code} is no enterprise", field="party")
        if investment.acquired_on > beijing_date(uow.now()):
            raise AcquiredInFuture(
                f"acquired on {investment.acquired_on}, after today", field="acquired_on"
            )
        _check_not_credited(uow, investment)
        payload = {"incentive": "equipment_credit", **to_payload(investment)}
        pending = gate(uow, actor, TAX_INCENTIVE, payload, key=f"equipment:{investment.id}")
        if pending is not None:
            return pending
        _ensure_accounts(uow, investment.party, IncentiveKind.EQUIPMENT_CREDIT)
        lock_balances(uow, [(account_code(investment.party, "equipment_credit"), CASH)])
        _check_not_credited(uow, investment)  # again, now that no other grant runs
        uow.tax.add_basis(basis, uow.now())
        return Created(book_in(uow, basis.id, incentive_id, basis.cap_fen, memo, details))

    return in_transaction(uow_factory, work, actor=actor)


def run_approved_equipment_credit(
    uow_factory: UnitOfWorkFactory, actor: Actor, payload: Mapping[str, Any]
) -> Created[Incentive] | Pending:
    """The approved grant, run again for its initiator."""
    command = {k: v for k, v in payload.items() if k != "incentive"}
    return grant_equipment_credit(uow_factory, actor, from_payload(EquipmentInvestment, command))


def _check_not_credited(uow: UnitOfWork, investment: EquipmentInvestment) -> None:
    """The same equipment (party and description, `same_thing_key`) credited under another id
    is refused: the credit would be granted twice on one investment."""
    wanted = same_thing_key(investment.party, investment.description)
    found = uow.tax.list_incentives(investment.party, IncentiveKind.EQUIPMENT_CREDIT, 0, 100_000)
    entries = uow.journal.get_many([i.entry_id for _, i in found])
    for _, incentive in found:
        entry = entries.get(incentive.entry_id)
        if entry is not None and same_thing_key(incentive.party, entry.memo) == wanted:
            raise IncentiveRegistered(
                f"{incentive.id} credits {investment.party}'s equipment "
                f"{investment.description!r} already",
                field="description",
            )


def _granted_already(
    uow: UnitOfWork, same_basis: bool, incentive_id: str, entry: journal.PostEntry
) -> Created[Incentive]:
    """The credit of equipment credited already: this request's own (the same basis, booked
    by the same entry: a retry), or a conflict."""
    stored = uow.tax.get_incentive(incentive_id)
    written = uow.journal.get_many([entry.entry_id])
    if not same_basis or stored is None or not journal.is_replay(uow, [entry], written):
        raise RecordExists(f"{incentive_id} exists: this equipment has its credit", field="id")
    return Created(stored, replayed=True)


@use_case("equipment_credits.claw_back")
def claw_back(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    equipment_id: str,
    transferred_on: date,
    detail: str = "",
) -> Created[list[Incentive]]:
    """The equipment was transferred or leased out: within 5 years of acquisition, every
    active credit on it is reversed; later, the transfer is `clawback_not_due`. The same
    clawback again (the same transfer date and detail) answers the credits it reversed, as a
    replay; another one finds nothing to claw back (`incentive_already_reversed`)."""

    def work(uow: UnitOfWork) -> Created[list[Incentive]]:
        basis = uow.tax.get_basis(f"equipment-{equipment_id}", lock=True)
        if basis is None or basis.acquired_on is None or not sees(uow, actor, basis.party):
            raise IncentiveNotFound(
                f"equipment credit {equipment_id!r} not found", field="equipment_id"
            )
        if not clawback_due(basis.acquired_on, transferred_on):
            raise ClawbackNotDue(
                f"acquired {basis.acquired_on}, transferred {transferred_on}: over 5 years",
                field="transferred_on",
            )
        text = detail or f"equipment {equipment_id} transferred on {transferred_on}"
        noted = {"transferred_on": transferred_on.isoformat()}
        credits = uow.tax.incentives_of_basis(basis.id)
        active = [i for i in credits if i.active]
        if not active:
            return _clawed_already(uow, equipment_id, credits, text, noted)
        clawed = [
            _reverse_in(uow, i, ReversalReason.CLAWBACK, text, None, noted=noted) for i in active
        ]
        return Created(clawed)

    return in_transaction(uow_factory, work, actor=actor)


def _clawed_already(
    uow: UnitOfWork,
    equipment_id: str,
    credits: list[Incentive],
    text: str,
    noted: Mapping[str, Any],
) -> Created[list[Incentive]]:
    """A retry of the clawback that reversed the credits (its entries written from the same
    request: the same transfer date and detail) answers them; anything else is a conflict."""
    clawed = [
        i
        for i in credits
        if i.reversal is not None and i.reversal.reason is ReversalReason.CLAWBACK
    ]
    entries = [_reversal_entry(i, ReversalReason.CLAWBACK, text, (), noted) for i in clawed]
    written = uow.journal.get_many([e.entry_id for e in entries])
    if not clawed or not journal.is_replay(uow, entries, written):
        raise IncentiveAlreadyReversed(f"no active credit on {equipment_id}", field="id")
    return Created(clawed, replayed=True)


# -- reads ------------------------------------------------------------------------------------


@use_case("incentives.list")
def list_incentives(  # noqa: PLR0917 - query filters
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    party: str | None,
    kind: IncentiveKind | None,
    cursor: str | None,
    limit: int,
) -> Page[Incentive]:
    """Incentives in booking order, of the parties the actor sees."""
    after = decode_cursor("incentives", cursor)
    check_page_size(limit)
    rows = read(
        uow_factory,
        lambda uow: uow.tax.list_incentives(party, kind, after, limit, scope=actor.scope),
    )
    return keyset_page("incentives", rows, limit)


@use_case("incentives.read")
def get_incentive(uow_factory: UnitOfWorkFactory, actor: Actor, incentive_id: str) -> Incentive:
    """One incentive (404 if unknown or out of scope)."""

    def work(uow: UnitOfWork) -> Incentive:
        found = uow.tax.get_incentive(incentive_id)
        if found is None or not sees(uow, actor, found.party):
            raise IncentiveNotFound(f"incentive {incentive_id!r} not found", field="incentive_id")
        return found

    return read(uow_factory, work)


@use_case("equipment_credits.schedule")
def credit_schedule(
    uow_factory: UnitOfWorkFactory, actor: Actor, party: str, cit_payable: dict[int, int]
) -> list[CreditYear]:
    """How the enterprise's active equipment credits are used against CIT payable per year
    (oldest first), what lapses after 5 years and what is left."""
    if any(fen < 0 for fen in cit_payable.values()):
        raise InvalidField("CIT payable cannot be negative", field="cit_payable")

    def work(uow: UnitOfWork) -> list[CreditYear]:
        party_in_scope(uow, actor, party)
        found = uow.tax.list_incentives(party, IncentiveKind.EQUIPMENT_CREDIT, 0, 100_000)
        credits = []
        for _, incentive in found:
            basis = uow.tax.get_basis(incentive.basis_id)
            if incentive.active and basis is not None and basis.acquired_on is not None:
                credits.append((basis.acquired_on.year, incentive.amount_fen))
        return carry_forward(credits, sorted(cit_payable.items()))

    return read(uow_factory, work)
