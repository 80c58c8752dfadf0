"""Environmental tax and incentives in SQL: policy settings, filed returns and their lines,
incentive bases, incentives, reversals and verified reductions.

Everything here is appended, never updated (the database refuses updates by trigger). Exact
values (masses, equivalents, ratios) are stored as decimal or `n/d` fraction text.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import Connection, Row, exists, func, insert, select, update

from ledger.domain.access import EVERYTHING, Scope
from ledger.domain.incentives import (
    BaselineKind,
    Incentive,
    IncentiveBasis,
    IncentiveKind,
    ReductionClaim,
    ReductionReversal,
    Release,
    Reversal,
    ReversalReason,
    VerifiedReduction,
)
from ledger.domain.income_tax import (
    CreditMove,
    CreditYearRecord,
    ProjectYear,
    RetrofitProject,
)
from ledger.domain.tax import Disqualification, MonthlyTax, QuarterlyReturn, TaxLine
from ledger.domain.tax_filing import (
    FiledReturn,
    Quarter,
    Source,
    from_fen,
    policy_from_dict,
    policy_to_dict,
    to_fen,
)
from ledger.domain.tax_tables import (
    HEBEI,
    EquivalentValue,
    Membership,
    Placement,
    Pollutant,
    Rate,
    RateCategory,
    TableEntry,
    TableKind,
    TableValue,
)
from ledger.persistence import tables as t
from ledger.persistence.scoping import visible_to

TAX_POLICY_KEY = "tax_policy"
_REVERSED = exists().where(t.incentive_reversals.c.incentive_id == t.incentives.c.id)
_VOIDED = exists().where(t.incentive_basis_voids.c.basis_id == t.incentive_bases.c.id)


def _fraction_text(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


def _fraction(text: str | None) -> Fraction | None:
    return None if text is None else Fraction(text)


class SqlTaxRepository:
    """Tax returns, incentives and reductions over the unit of work's connection."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    # -- policy ---------------------------------------------------------------------------------

    def get_policy(self) -> dict[str, Any] | None:
        value = self._connection.execute(
            select(t.policies.c.value).where(t.policies.c.key == TAX_POLICY_KEY)
        ).scalar()
        return None if value is None else dict(value)

    def put_policy(self, values: Mapping[str, Any]) -> None:
        stored = dict(values)
        updated = self._connection.execute(
            update(t.policies).where(t.policies.c.key == TAX_POLICY_KEY).values(value=stored)
        )
        if updated.rowcount == 0:
            self._connection.execute(insert(t.policies).values(key=TAX_POLICY_KEY, value=stored))

    # -- returns --------------------------------------------------------------------------------

    def add_return(self, filed: FiledReturn, report_of_month: Mapping[date, str]) -> None:
        computed = filed.computed
        self._connection.execute(
            insert(t.tax_returns).values(
                id=filed.id,
                party_code=filed.party,
                year=computed.year,
                quarter=computed.quarter,
                version=filed.version,
                tier=_tier_number(computed.months[0].placement),
                source=filed.source.value,
                policy=policy_to_dict(filed.policy),
                report_ids=list(filed.report_ids),
                total_before_fen=to_fen(computed.total_before),
                total_due_fen=to_fen(computed.total_due),
                total_reduction_fen=to_fen(computed.total_reduction),
                supersedes=filed.supersedes,
                filed_by=filed.filed_by,
                filed_at=filed.filed_at,
            )
        )
        rows = [
            _line_row(filed.id, number, line, report_of_month.get(line.month))
            for number, line in enumerate(
                (line for month in computed.months for line in month.lines), start=1
            )
        ]
        if rows:
            self._connection.execute(insert(t.tax_return_lines), rows)
        self._connection.execute(
            insert(t.tax_return_schedules),
            [
                {
                    "id": f"{filed.id}/{month.month:%Y-%m}",
                    "return_id": filed.id,
                    "month": month.month,
                    "scheme": month.placement.scheme,
                    "tier": month.placement.tier,
                }
                for month in computed.months
            ],
        )

    def get_return(self, return_id: str) -> FiledReturn | None:
        row = self._connection.execute(
            _returns_query().where(t.tax_returns.c.id == return_id)
        ).first()
        return None if row is None else self._filed_one(row)

    def latest_return(self, party: str, year: int, quarter: int) -> FiledReturn | None:
        row = self._connection.execute(
            _returns_query()
            .where(
                t.tax_returns.c.party_code == party,
                t.tax_returns.c.year == year,
                t.tax_returns.c.quarter == quarter,
            )
            .order_by(t.tax_returns.c.version.desc())
            .limit(1)
        ).first()
        return None if row is None else self._filed_one(row)

    def list_returns(
        self,
        party: str | None,
        year: int | None,
        after: int,
        limit: int,
        *,
        scope: Scope = EVERYTHING,
    ) -> list[tuple[int, FiledReturn]]:
        r = t.tax_returns.c
        query = _returns_query().where(r.seq > after, visible_to(scope, r.party_code))
        if party is not None:
            query = query.where(r.party_code == party)
        if year is not None:
            query = query.where(t.tax_returns.c.year == year)
        rows = list(self._connection.execute(query.order_by(t.tax_returns.c.seq).limit(limit)))
        ids = [row.id for row in rows]
        lines = self._lines_of(ids)  # one query for the page, not per row
        placements = self._placements_of(ids)
        return [(row.seq, _filed(row, lines[row.id], placements)) for row in rows]

    def _filed_one(self, row: Row[Any]) -> FiledReturn:
        return _filed(row, self._lines_of([row.id])[row.id], self._placements_of([row.id]))

    def _placements_of(self, return_ids: Sequence[str]) -> dict[tuple[str, date], Placement]:
        """(return, month) → the scheme and tier it was taxed at (absent: filed before 0019)."""
        s = t.tax_return_schedules.c
        rows = self._connection.execute(
            select(s.return_id, s.month, s.scheme, s.tier).where(s.return_id.in_(return_ids))
        )
        return {(row.return_id, row.month): Placement(row.scheme, row.tier) for row in rows}

    # -- the tax tables -------------------------------------------------------------------------

    def table_entries(self) -> list[TableEntry]:
        rows = self._connection.execute(
            select(t.tax_table_entries).order_by(t.tax_table_entries.c.seq)
        )
        return [_table_entry(row) for row in rows]

    def get_table_entry(self, entry_id: str) -> TableEntry | None:
        row = self._connection.execute(
            select(t.tax_table_entries).where(t.tax_table_entries.c.id == entry_id)
        ).first()
        return None if row is None else _table_entry(row)

    def add_table_entry(self, entry: TableEntry) -> None:
        assert entry.recorded_at is not None, "a stored entry says when it was recorded"
        self._connection.execute(
            insert(t.tax_table_entries).values(
                id=entry.id,
                kind=entry.kind.value,
                valid_from=entry.valid_from,
                recorded_by=entry.recorded_by,
                recorded_at=entry.recorded_at,
                **_table_columns(entry.value),
            )
        )

    def list_table_entries(
        self, kind: TableKind | None, after: int, limit: int
    ) -> list[tuple[int, TableEntry]]:
        e = t.tax_table_entries.c
        query = select(t.tax_table_entries).where(e.seq > after)
        if kind is not None:
            query = query.where(e.kind == kind.value)
        rows = self._connection.execute(query.order_by(e.seq).limit(limit))
        return [(row.seq, _table_entry(row)) for row in rows]

    def _lines_of(self, return_ids: Sequence[str]) -> defaultdict[str, list[TaxLine]]:
        """The lines of each return, in line order (an empty list for a return without any)."""
        by_return: defaultdict[str, list[TaxLine]] = defaultdict(list)
        if return_ids:
            rows = self._connection.execute(
                select(t.tax_return_lines)
                .where(t.tax_return_lines.c.return_id.in_(return_ids))
                .order_by(t.tax_return_lines.c.return_id, t.tax_return_lines.c.line_no)
            )
            for line in rows:
                by_return[line.return_id].append(_line(line))
        return by_return

    # -- incentive bases ------------------------------------------------------------------------

    def add_basis(self, basis: IncentiveBasis, at: datetime) -> None:
        self._connection.execute(
            insert(t.incentive_bases).values(
                id=basis.id,
                kind=basis.kind.value,
                party_code=basis.party,
                cap_fen=basis.cap_fen,
                return_id=basis.return_id,
                equipment_id=basis.equipment_id,
                acquired_on=basis.acquired_on,
                created_at=at,
            )
        )
        if basis.report_ids:
            self._connection.execute(
                insert(t.incentive_basis_reports),
                [{"basis_id": basis.id, "report_id": r} for r in basis.report_ids],
            )

    def get_basis(self, basis_id: str, *, lock: bool = False) -> IncentiveBasis | None:
        query = select(t.incentive_bases, _VOIDED.label("void")).where(
            t.incentive_bases.c.id == basis_id
        )
        if lock:  # SQLite: the compiler drops FOR UPDATE; its write lock covers it
            query = query.with_for_update(of=t.incentive_bases)
        row = self._connection.execute(query).first()
        return None if row is None else self._basis_one(row)

    def bases_of_report(self, report_id: str) -> list[IncentiveBasis]:
        ids = select(t.incentive_basis_reports.c.basis_id).where(
            t.incentive_basis_reports.c.report_id == report_id
        )
        rows = self._connection.execute(
            select(t.incentive_bases, _VOIDED.label("void"))
            .where(t.incentive_bases.c.id.in_(ids))
            .order_by(t.incentive_bases.c.id)
        ).all()
        reports = self._reports_of(row.id for row in rows)  # one query, not one per basis
        return [_basis(row, reports.get(row.id, ())) for row in rows]

    def basis_of_return(self, return_id: str) -> IncentiveBasis | None:
        row = self._connection.execute(
            select(t.incentive_bases, _VOIDED.label("void")).where(
                t.incentive_bases.c.return_id == return_id
            )
        ).first()
        return None if row is None else self._basis_one(row)

    def void_basis(self, basis_id: str, report_id: str | None, reason: str, at: datetime) -> None:
        self._connection.execute(
            insert(t.incentive_basis_voids).values(
                basis_id=basis_id, report_id=report_id, reason=reason[:400], at=at
            )
        )

    def _basis_one(self, row: Row[Any]) -> IncentiveBasis:
        return _basis(row, self._reports_of([row.id]).get(row.id, ()))

    def _reports_of(self, basis_ids: Iterable[str]) -> dict[str, tuple[str, ...]]:
        rows = self._connection.execute(
            select(t.incentive_basis_reports)
            .where(t.incentive_basis_reports.c.basis_id.in_(list(basis_ids)))
            .order_by(t.incentive_basis_reports.c.report_id)
        )
        found: dict[str, list[str]] = defaultdict(list)
        for row in rows:
            found[row.basis_id].append(row.report_id)
        return {key: tuple(value) for key, value in found.items()}

    # -- incentives -----------------------------------------------------------------------------

    def active_fen(self, basis_id: str) -> int:
        total = self._connection.execute(
            select(func.coalesce(func.sum(t.incentives.c.amount_fen), 0)).where(
                t.incentives.c.basis_id == basis_id, ~_REVERSED
            )
        ).scalar_one()
        return int(total)

    def add_incentive(self, incentive: Incentive) -> None:
        self._connection.execute(
            insert(t.incentives).values(
                id=incentive.id,
                basis_id=incentive.basis_id,
                basis_fen=incentive.basis_fen,
                kind=incentive.kind.value,
                party_code=incentive.party,
                amount_fen=incentive.amount_fen,
                entry_id=incentive.entry_id,
                booked_at=incentive.booked_at,
            )
        )

    def get_incentive(self, incentive_id: str) -> Incentive | None:
        found = self._incentives(t.incentives.c.id == incentive_id)
        return found[0][1] if found else None

    def incentives_of_basis(self, basis_id: str) -> list[Incentive]:
        return [i for _, i in self._incentives(t.incentives.c.basis_id == basis_id)]

    def list_incentives(
        self,
        party: str | None,
        kind: IncentiveKind | None,
        after: int,
        limit: int,
        *,
        scope: Scope = EVERYTHING,
    ) -> list[tuple[int, Incentive]]:
        i = t.incentives.c
        conditions = [i.seq > after, visible_to(scope, i.party_code)]
        if party is not None:
            conditions.append(i.party_code == party)
        if kind is not None:
            conditions.append(t.incentives.c.kind == kind.value)
        return self._incentives(*conditions, limit=limit)

    def _incentives(
        self, *conditions: Any, limit: int | None = None
    ) -> list[tuple[int, Incentive]]:
        query = (
            select(
                t.incentives,
                t.incentive_reversals.c.incentive_id.label("reversed_id"),
                t.incentive_reversals.c.reason.label("reversal_reason"),
                t.incentive_reversals.c.report_id.label("reversal_report_id"),
                t.incentive_reversals.c.entry_id.label("reversal_entry_id"),
                t.incentive_reversals.c.detail.label("reversal_detail"),
                t.incentive_reversals.c.at.label("reversed_at"),
            )
            .outerjoin(
                t.incentive_reversals, t.incentive_reversals.c.incentive_id == t.incentives.c.id
            )
            .where(*conditions)
            .order_by(t.incentives.c.seq)
        )
        if limit is not None:
            query = query.limit(limit)
        rows = list(self._connection.execute(query))
        reports = self._reports_of({row.basis_id for row in rows})
        return [(row.seq, _incentive(row, reports.get(row.basis_id, ()))) for row in rows]

    def add_reversal(self, incentive_id: str, reversal: Reversal) -> None:
        self._connection.execute(
            insert(t.incentive_reversals).values(
                incentive_id=incentive_id,
                reason=reversal.reason.value,
                report_id=reversal.report_id,
                entry_id=reversal.entry_id,
                detail=reversal.detail[:400],
                at=reversal.at,
            )
        )

    # -- verified reductions --------------------------------------------------------------------

    def add_reduction(self, record: VerifiedReduction) -> None:
        claim = record.claim
        self._connection.execute(
            insert(t.verified_reductions).values(
                id=record.id,
                party_code=claim.party,
                pollutant=claim.pollutant,
                year=claim.year,
                report_id=record.report_id,
                baseline_kind=claim.baseline_kind.value,
                baseline_kg=str(claim.baseline_kg),
                baseline_hours=claim.baseline_hours,
                actual_kg=str(claim.actual_kg),
                actual_hours=claim.actual_hours,
                reduction_kg=record.reduction_kg,
                released_units=record.released_units,
                release=record.release.value,
                entry_id=record.entry_id,
                created_at=record.created_at,
                retrofit_month=record.retrofit_month,
            )
        )

    def get_reduction(self, reduction_id: str) -> VerifiedReduction | None:
        row = self._connection.execute(
            _reductions_query().where(t.verified_reductions.c.id == reduction_id)
        ).first()
        return None if row is None else _reduction(row)

    def reductions_of_report(self, report_id: str) -> list[VerifiedReduction]:
        v = t.verified_reductions.c
        rows = self._connection.execute(
            _reductions_query().where(v.report_id == report_id).order_by(v.seq)
        )
        return [_reduction(row) for row in rows]

    def add_reduction_reversal(self, reduction_id: str, reversal: ReductionReversal) -> None:
        self._connection.execute(
            insert(t.verified_reduction_reversals).values(
                reduction_id=reduction_id,
                reason=reversal.reason.value,
                report_id=reversal.report_id,
                entry_id=reversal.entry_id,
                restored_units=reversal.restored_units,
                unrestored_units=reversal.unrestored_units,
                detail=reversal.detail[:400],
                at=reversal.at,
            )
        )

    def list_reductions(
        self, party: str | None, after: int, limit: int, *, scope: Scope = EVERYTHING
    ) -> list[tuple[int, VerifiedReduction]]:
        v = t.verified_reductions.c
        query = _reductions_query().where(v.seq > after, visible_to(scope, v.party_code))
        if party is not None:
            query = query.where(v.party_code == party)
        rows = self._connection.execute(query.order_by(v.seq).limit(limit))
        return [(row.seq, _reduction(row)) for row in rows]

    # -- rules §1.4, booked: the equipment credit's tax years, retrofit projects' exemption ----

    def add_credit_year(self, record: CreditYearRecord, at: datetime) -> None:
        self._connection.execute(
            insert(t.equipment_credit_years).values(
                id=record.id,
                party_code=record.party,
                year=record.year,
                cit_payable_fen=record.cit_payable_fen,
                created_at=at,
            )
        )
        if record.moves:
            self._connection.execute(
                insert(t.equipment_credit_moves),
                [
                    {
                        "year_id": record.id,
                        "incentive_id": m.incentive_id,
                        "kind": m.kind,
                        "amount_fen": m.amount_fen,
                    }
                    for m in record.moves
                ],
            )

    def get_credit_year(self, record_id: str) -> CreditYearRecord | None:
        years = self._credit_years(t.equipment_credit_years.c.id == record_id)
        return years[0] if years else None

    def credit_years_of(self, party: str) -> list[CreditYearRecord]:
        return self._credit_years(t.equipment_credit_years.c.party_code == party)

    def _credit_years(self, condition: Any) -> list[CreditYearRecord]:
        years, moves = t.equipment_credit_years, t.equipment_credit_moves
        rows = self._connection.execute(select(years).where(condition).order_by(years.c.year))
        found = list(rows)
        moved: dict[str, list[CreditMove]] = defaultdict(list)
        if found:
            for m in self._connection.execute(
                select(moves).where(moves.c.year_id.in_([r.id for r in found])).order_by(moves.c.id)
            ):
                moved[m.year_id].append(CreditMove(m.incentive_id, m.kind, m.amount_fen))
        return [
            CreditYearRecord(r.party_code, r.year, r.cit_payable_fen, tuple(moved[r.id]))
            for r in found
        ]

    def credit_moved_fen(self, incentive_ids: Sequence[str]) -> dict[str, int]:
        if not incentive_ids:
            return {}
        moves = t.equipment_credit_moves
        rows = self._connection.execute(
            select(moves.c.incentive_id, func.sum(moves.c.amount_fen))
            .where(moves.c.incentive_id.in_(incentive_ids))
            .group_by(moves.c.incentive_id)
        )
        return {incentive: int(fen) for incentive, fen in rows}

    def add_project(self, project: RetrofitProject, at: datetime) -> None:
        self._connection.execute(
            insert(t.retrofit_projects).values(
                id=project.id,
                party_code=project.party,
                first_revenue_year=project.first_revenue_year,
                description=project.description,
                created_at=at,
            )
        )

    def get_project(self, project_id: str) -> RetrofitProject | None:
        projects = t.retrofit_projects
        row = self._connection.execute(select(projects).where(projects.c.id == project_id)).first()
        if row is None:
            return None
        return RetrofitProject(row.id, row.party_code, row.first_revenue_year, row.description)

    def projects_of(self, party: str) -> list[RetrofitProject]:
        projects = t.retrofit_projects
        rows = self._connection.execute(
            select(projects).where(projects.c.party_code == party).order_by(projects.c.id)
        )
        return [
            RetrofitProject(r.id, r.party_code, r.first_revenue_year, r.description) for r in rows
        ]

    def add_project_year(self, booked: ProjectYear, at: datetime) -> None:
        self._connection.execute(
            insert(t.retrofit_project_years).values(
                project_id=booked.project_id,
                year=booked.year,
                income_fen=booked.income_fen,
                exempt_fen=booked.exempt_fen,
                created_at=at,
            )
        )

    def project_years(self, project_id: str) -> list[ProjectYear]:
        years = t.retrofit_project_years
        rows = self._connection.execute(
            select(years).where(years.c.project_id == project_id).order_by(years.c.year)
        )
        return [ProjectYear(r.project_id, r.year, r.income_fen, r.exempt_fen) for r in rows]


def _returns_query() -> Any:
    voided = (
        exists()
        .where(t.incentive_bases.c.return_id == t.tax_returns.c.id)
        .where(t.incentive_basis_voids.c.basis_id == t.incentive_bases.c.id)
    )
    return select(t.tax_returns, voided.label("void"))


def _reductions_query() -> Any:
    r = t.verified_reduction_reversals.c
    reversal = (
        r.reduction_id.label("reversed_id"),
        r.reason.label("reversal_reason"),
        r.report_id.label("reversal_report_id"),
        r.entry_id.label("reversal_entry_id"),
        r.restored_units,
        r.unrestored_units,
        r.detail.label("reversal_detail"),
        r.at.label("reversed_at"),
    )
    return select(t.verified_reductions, *reversal).outerjoin(
        t.verified_reduction_reversals, r.reduction_id == t.verified_reductions.c.id
    )


def _line_row(return_id: str, number: int, line: TaxLine, report_id: str | None) -> dict[str, Any]:
    return {
        "return_id": return_id,
        "line_no": number,
        "month": line.month,
        "report_id": report_id,
        "outlet_code": line.outlet,
        "pollutant": line.pollutant.value,
        "mass_kg": str(line.mass_kg),
        "equivalents": _fraction_text(line.equivalents),
        "rank": line.rank,
        "taxed": line.taxed,
        "rate": str(line.rate),
        "ratio": None if line.ratio is None else _fraction_text(line.ratio),
        "factor": str(line.factor),
        "disqualifications": [reason.value for reason in line.disqualifications],
        "tax_before_fen": to_fen(line.tax_before),
        "tax_due_fen": to_fen(line.tax_due),
    }


def _tier_number(placement: Placement) -> int:
    """`tax_returns.tier` (before 0019 the only tier kept): Hebei's tier, else 0."""
    return int(placement.tier) if placement.scheme == HEBEI else 0


def _table_columns(value: TableValue) -> dict[str, str]:
    if isinstance(value, Rate):
        return {
            "scheme": value.scheme,
            "tier": value.tier,
            "category": value.category.value,
            "value": str(value.cny_per_equivalent),
        }
    if isinstance(value, EquivalentValue):
        return {"pollutant": value.pollutant.value, "value": str(value.kg_per_equivalent)}
    return {"city": value.city, "county": value.county, "scheme": value.scheme, "tier": value.tier}


def _table_entry(row: Row[Any]) -> TableEntry:
    value: TableValue
    kind = TableKind(row.kind)
    if kind is TableKind.RATE:
        value = Rate(row.scheme, row.tier, RateCategory(row.category), Decimal(row.value))
    elif kind is TableKind.EQUIVALENT:
        value = EquivalentValue(Pollutant(row.pollutant), Decimal(row.value))
    else:
        value = Membership(row.city, row.county, row.scheme, row.tier)
    return TableEntry(row.id, row.valid_from, value, row.recorded_by, row.recorded_at)


def _filed(
    row: Row[Any], lines: Sequence[TaxLine], placements: Mapping[tuple[str, date], Placement]
) -> FiledReturn:
    by_month: dict[date, list[TaxLine]] = defaultdict(list)
    for line in lines:
        by_month[line.month].append(line)
    before_0019 = Placement(HEBEI, str(row.tier))
    first, second, third = (
        MonthlyTax(
            row.party_code,
            month,
            placements.get((row.id, month), before_0019),
            tuple(by_month[month]),
        )
        for month in Quarter(row.year, row.quarter).months()
    )
    computed = QuarterlyReturn(row.party_code, row.year, row.quarter, (first, second, third))
    return FiledReturn(
        id=row.id,
        version=row.version,
        computed=computed,
        source=Source(row.source),
        policy=policy_from_dict(row.policy),
        report_ids=tuple(row.report_ids),
        filed_by=row.filed_by,
        filed_at=row.filed_at,
        supersedes=row.supersedes,
        void=bool(row.void),
    )


def _basis(row: Row[Any], report_ids: tuple[str, ...]) -> IncentiveBasis:
    return IncentiveBasis(
        id=row.id,
        kind=IncentiveKind(row.kind),
        party=row.party_code,
        cap_fen=row.cap_fen,
        report_ids=report_ids,
        return_id=row.return_id,
        equipment_id=row.equipment_id,
        acquired_on=row.acquired_on,
        void=bool(row.void),
    )


def _line(row: Row[Any]) -> TaxLine:
    return TaxLine(
        month=row.month,
        outlet=row.outlet_code,
        pollutant=Pollutant(row.pollutant),
        mass_kg=Decimal(row.mass_kg),
        equivalents=Fraction(row.equivalents),
        rank=row.rank,
        taxed=row.taxed,
        rate=Decimal(row.rate),
        ratio=_fraction(row.ratio),
        factor=Decimal(row.factor),
        disqualifications=tuple(Disqualification(value) for value in row.disqualifications),
        tax_before=from_fen(row.tax_before_fen),
        tax_due=from_fen(row.tax_due_fen),
    )


def _incentive(row: Row[Any], reports: tuple[str, ...]) -> Incentive:
    reversal = None
    if row.reversed_id is not None:
        reversal = Reversal(
            reason=ReversalReason(row.reversal_reason),
            entry_id=row.reversal_entry_id,
            at=row.reversed_at,
            detail=row.reversal_detail,
            report_id=row.reversal_report_id,
        )
    return Incentive(
        id=row.id,
        basis_id=row.basis_id,
        kind=IncentiveKind(row.kind),
        party=row.party_code,
        amount_fen=row.amount_fen,
        basis_fen=row.basis_fen,
        entry_id=row.entry_id,
        booked_at=row.booked_at,
        report_ids=reports,
        reversal=reversal,
    )


def _reduction(row: Row[Any]) -> VerifiedReduction:
    claim = ReductionClaim(
        party=row.party_code,
        pollutant=row.pollutant,
        year=row.year,
        baseline_kind=BaselineKind(row.baseline_kind),
        baseline_kg=Decimal(row.baseline_kg),
        baseline_hours=row.baseline_hours,
        actual_kg=Decimal(row.actual_kg),
        actual_hours=row.actual_hours,
    )
    return VerifiedReduction(
        id=row.id,
        claim=claim,
        report_id=row.report_id,
        reduction_kg=row.reduction_kg,
        released_units=row.released_units,
        release=Release(row.release),
        entry_id=row.entry_id,
        created_at=row.created_at,
        retrofit_month=row.retrofit_month,
        reversal=_reduction_reversal(row),
    )


def _reduction_reversal(row: Row[Any]) -> ReductionReversal | None:
    if row.reversed_id is None:
        return None
    return ReductionReversal(
        reason=ReversalReason(row.reversal_reason),
        report_id=row.reversal_report_id,
        entry_id=row.reversal_entry_id,
        restored_units=row.restored_units,
        unrestored_units=row.unrestored_units,
        at=row.reversed_at,
        detail=row.reversal_detail,
    )
