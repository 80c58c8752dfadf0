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
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from ledger.domain.access import Scope
from ledger.domain.accounts import Side
from ledger.domain.entries import Reference
from ledger.domain.errors import InvalidField, PartyNotFound, RecordExists
from ledger.domain.incentives import (
    ClawbackNotDue,
    CreditYear,
    Incentive,
    IncentiveAlreadyReversed,
    IncentiveBasis,
    IncentiveKind,
    IncentiveNotFound,
    Reversal,
    ReversalReason,
    carry_forward,
    check_within_basis,
    clawback_due,
    equipment_credit_fen,
)
from ledger.domain.pages import check_page_size, decode_cursor
from ledger.domain.ports import AccountDraft, UnitOfWork, UnitOfWorkFactory
from ledger.domain.registry import CASH, PROVINCE, account_code
from ledger.services import journal
from ledger.services.parties import ensure_instruments, move, party_of
from ledger.services.transactions import in_transaction, read

TAX_EXPENDITURE = "tax_expenditure"
ACCOUNT_OF_KIND = {
    IncentiveKind.ARTICLE_13: "tax_incentives",
    IncentiveKind.EQUIPMENT_CREDIT: "equipment_credit",
}
ENTRY_TYPE = "tax_incentive"
REVERSAL_ENTRY_TYPE = {
    ReversalReason.REPORT_INVALIDATED: "tax_incentive_reversal",
    ReversalReason.CLAWBACK: "tax_incentive_clawback",
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


def book_in(
    uow: UnitOfWork, basis_id: str, incentive_id: str, amount_fen: int, memo: str = ""
) -> Incentive:
    """Inside the caller's unit of work: book `amount_fen` on a basis, within what it supports."""
    basis = uow.tax.get_basis(basis_id, lock=True)
    if basis is None:
        raise IncentiveNotFound(f"no incentive basis {basis_id!r}", field="basis_id")
    if uow.tax.get_incentive(incentive_id) is not None:
        raise RecordExists(f"incentive {incentive_id} exists", field="id")
    check_within_basis(basis, uow.tax.active_fen(basis.id), amount_fen)
    expenditure, holder = _ensure_accounts(uow, basis.party, basis.kind)
    entry = journal.PostEntry(
        entry_id=f"incentive-{incentive_id}",
        entry_type=ENTRY_TYPE,
        postings=tuple(move(expenditure, holder, CASH, amount_fen, 2)),
        memo=memo,
        references=_references(incentive_id, basis),
        metadata={"kind": basis.kind.value, "basis": basis.id, "basis_fen": basis.cap_fen},
    )
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


def _reverse_in(
    uow: UnitOfWork, incentive: Incentive, reason: ReversalReason, detail: str, report: str | None
) -> Incentive:
    if not incentive.active:
        raise IncentiveAlreadyReversed(f"incentive {incentive.id} was reversed", field="id")
    expenditure, holder = _ensure_accounts(uow, incentive.party, incentive.kind)
    entry = journal.PostEntry(
        entry_id=f"incentive-{incentive.id}-{reason.value.split('_')[0]}",
        entry_type=REVERSAL_ENTRY_TYPE[reason],
        postings=tuple(move(holder, expenditure, CASH, incentive.amount_fen, 2)),
        memo=detail[:500],
        references=(
            Reference("incentive", incentive.id),
            Reference("entry", incentive.entry_id),
            *(Reference("emission_report", r) for r in incentive.report_ids),
        ),
        metadata={"reverses": incentive.entry_id, "reason": reason.value},
    )
    (record,) = journal.write_in(uow, [entry])
    reversal = Reversal(reason, record.entry_id, record.recorded_at, detail, report)
    uow.tax.add_reversal(incentive.id, reversal)
    return replace(incentive, reversal=reversal)


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


# -- use cases ------------------------------------------------------------------------------


def book_incentive(
    uow_factory: UnitOfWorkFactory, basis_id: str, incentive_id: str, amount_fen: int
) -> Incentive:
    """Book an incentive on an existing basis (refused beyond what the basis supports)."""
    return in_transaction(uow_factory, lambda uow: book_in(uow, basis_id, incentive_id, amount_fen))


@dataclass(frozen=True, slots=True)
class EquipmentInvestment:
    """A qualifying investment in catalogue environmental-protection equipment."""

    id: str  # the equipment (or its acquisition) id
    party: str
    investment_fen: int
    acquired_on: date
    description: str = ""


def grant_equipment_credit(
    uow_factory: UnitOfWorkFactory, investment: EquipmentInvestment
) -> Incentive:
    """Book the CIT credit of 10% of the investment (rounded down to the fen)."""

    def work(uow: UnitOfWork) -> Incentive:
        party_of(uow, investment.party)
        basis_id = f"equipment-{investment.id}"
        if uow.tax.get_basis(basis_id) is not None:
            raise RecordExists(f"equipment {investment.id} has its credit", field="id")
        basis = IncentiveBasis(
            id=basis_id,
            kind=IncentiveKind.EQUIPMENT_CREDIT,
            party=investment.party,
            cap_fen=equipment_credit_fen(investment.investment_fen),
            equipment_id=investment.id,
            acquired_on=investment.acquired_on,
        )
        uow.tax.add_basis(basis, uow.now())
        return book_in(
            uow, basis_id, f"eq-{investment.id}", basis.cap_fen, memo=investment.description
        )

    return in_transaction(uow_factory, work)


def claw_back(
    uow_factory: UnitOfWorkFactory, equipment_id: str, transferred_on: date, detail: str = ""
) -> list[Incentive]:
    """The equipment was transferred or leased out: within 5 years of acquisition, every
    active credit on it is reversed; later, the transfer is `clawback_not_due`."""

    def work(uow: UnitOfWork) -> list[Incentive]:
        basis = uow.tax.get_basis(f"equipment-{equipment_id}", lock=True)
        if basis is None or basis.acquired_on is None:
            raise IncentiveNotFound(f"no equipment credit for {equipment_id!r}", field="id")
        if not clawback_due(basis.acquired_on, transferred_on):
            raise ClawbackNotDue(
                f"acquired {basis.acquired_on}, transferred {transferred_on}: over 5 years",
                field="transferred_on",
            )
        text = detail or f"equipment {equipment_id} transferred on {transferred_on}"
        active = [i for i in uow.tax.incentives_of_basis(basis.id) if i.active]
        if not active:
            raise IncentiveAlreadyReversed(f"no active credit on {equipment_id}", field="id")
        return [_reverse_in(uow, i, ReversalReason.CLAWBACK, text, None) for i in active]

    return in_transaction(uow_factory, work)


# -- reads ------------------------------------------------------------------------------------


def visible_parties(uow: UnitOfWork, scope: Scope, party: str | None) -> list[str] | None:
    """The parties a listing may show: None means all; [] means nothing visible."""
    if scope.party is not None:
        return [scope.party] if party in (None, scope.party) else []
    if party is not None:
        found = uow.registry.get_party(party)
        return [party] if found is not None and scope.sees(party, found.city) else []
    if scope.city is not None:
        rows = uow.registry.list_parties(None, scope.city, 0, 100_000)
        return [p.code for _, p in rows]
    return None


def list_incentives(  # noqa: PLR0917 - query filters
    uow_factory: UnitOfWorkFactory,
    scope: Scope,
    party: str | None,
    kind: IncentiveKind | None,
    cursor: str | None,
    limit: int,
) -> list[tuple[int, Incentive]]:
    """Incentives in booking order, of the parties `scope` sees."""
    after = decode_cursor("incentives", cursor)
    check_page_size(limit)

    def work(uow: UnitOfWork) -> list[tuple[int, Incentive]]:
        parties = visible_parties(uow, scope, party)
        if parties == []:
            return []
        return uow.tax.list_incentives(parties, kind, after, limit)

    return read(uow_factory, work)


def get_incentive(uow_factory: UnitOfWorkFactory, scope: Scope, incentive_id: str) -> Incentive:
    """One incentive (404 if unknown or out of scope)."""

    def work(uow: UnitOfWork) -> Incentive:
        found = uow.tax.get_incentive(incentive_id)
        if found is None or visible_parties(uow, scope, found.party) == []:
            raise IncentiveNotFound(f"no incentive {incentive_id!r}", field="incentive_id")
        return found

    return read(uow_factory, work)


def credit_schedule(
    uow_factory: UnitOfWorkFactory, scope: Scope, party: str, cit_payable: dict[int, int]
) -> list[CreditYear]:
    """How the enterprise's active equipment credits are used against CIT payable per year
    (oldest first), what lapses after 5 years and what is left."""
    if any(fen < 0 for fen in cit_payable.values()):
        raise InvalidField("CIT payable cannot be negative", field="cit_payable")

    def work(uow: UnitOfWork) -> list[CreditYear]:
        if visible_parties(uow, scope, party) == []:
            raise PartyNotFound(f"no party {party!r}", field="code")
        found = uow.tax.list_incentives([party], IncentiveKind.EQUIPMENT_CREDIT, 0, 100_000)
        credits = []
        for _, incentive in found:
            basis = uow.tax.get_basis(incentive.basis_id)
            if incentive.active and basis is not None and basis.acquired_on is not None:
                credits.append((basis.acquired_on.year, incentive.amount_fen))
        return carry_forward(credits, sorted(cit_payable.items()))

    return read(uow_factory, work)
