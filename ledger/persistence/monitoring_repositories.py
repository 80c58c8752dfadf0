"""Repositories of migration 0005: CEMS hours, imports and monthly aggregates; emission reports.

An import is checked set-wise in the database, not row by row in Python: its rows go into a
per-transaction staging table (PostgreSQL: `COPY`; SQLite: `executemany`), indexed, then one
query each finds hours staged twice, hours already stored with other values, and inserts the
rest in key order. Python memory stays bounded by one batch whatever the file's size.
"""

# ruff: noqa: S608 - statements are built from module constants and ints only

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from ledger.domain.access import EVERYTHING, Scope
from ledger.domain.cems import ImportRecord, OutletInfo, StoredHour, StoredMonth, plain
from ledger.domain.monitoring import EmissionStandard, MonthlyAggregate
from ledger.domain.reports import Method, Period, Report, ReportLine, ReportStatus
from ledger.domain.tax_tables import Pollutant
from ledger.persistence import tables as t
from ledger.persistence.scoping import visible_to

STAGE_COLUMNS = (
    "line",
    "outlet_seq",
    "pollutant",
    "hour",
    "concentration",
    "dry_flow",
    "o2",
    "valid_minutes",
    "flag",
)
_STAGE_TYPES: tuple[str, ...] = ("BIGINT", "BIGINT", "VARCHAR(16)", "BIGINT", "BIGINT")
_STAGE_TYPES += ("BIGINT", "INTEGER", "INTEGER", "CHAR(1)")
_SAME_KEY = "h.outlet_seq = s.outlet_seq AND h.pollutant = s.pollutant AND h.hour = s.hour"
_DIFFERENT = (
    "h.concentration <> s.concentration OR h.dry_flow <> s.dry_flow OR h.o2 <> s.o2 "
    "OR h.valid_minutes <> s.valid_minutes OR h.flag <> s.flag"
)
_EARLIER = (
    "FROM cems_stage f WHERE f.outlet_seq = s.outlet_seq AND f.pollutant = s.pollutant "
    "AND f.hour = s.hour AND f.line < s.line"
)


def _text(value: Fraction | Decimal | None) -> str | None:
    return None if value is None else str(value)


def _fraction(text: str | None) -> Fraction | None:
    return None if text is None else Fraction(text)


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _instants(moments: Sequence[datetime]) -> list[str]:
    """Exceedance hours as JSON: ISO 8601 UTC instants, in order."""
    return [moment.astimezone(UTC).isoformat() for moment in moments]


def _from_instants(texts: Sequence[str] | None) -> tuple[datetime, ...]:
    return tuple(datetime.fromisoformat(text) for text in texts or ())


def _methods(stored: dict[str, int] | None) -> tuple[tuple[str, int], ...]:
    """{method: hours} as stored, in method order (None: written before migration 0015)."""
    return tuple(sorted((stored or {}).items()))


class SqlMonitoringRepository:
    """CEMS imports, raw hours (append-only) and the monthly aggregates cache."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._postgresql = connection.dialect.name == "postgresql"
        self._indexed = False

    # -- outlets and imports -------------------------------------------------------------------

    def outlets(self, party: str | None, *, scope: Scope = EVERYTHING) -> list[OutletInfo]:
        query = select(t.outlets).where(visible_to(scope, t.outlets.c.party_code))
        query = query.order_by(t.outlets.c.seq)
        if party is not None:
            query = query.where(t.outlets.c.party_code == party)
        return [
            OutletInfo(r.seq, r.party_code, r.outlet_code) for r in self._connection.execute(query)
        ]

    def find_import(self, sha256: str) -> ImportRecord | None:
        row = self._connection.execute(
            select(t.cems_imports).where(t.cems_imports.c.sha256 == sha256)
        ).first()
        if row is None:
            return None
        return ImportRecord(
            row.sha256,
            row.source,
            row.rows,
            row.inserted,
            row.unchanged,
            row.imported_by,
            row.imported_at,
            row.seq,
            row.months,
        )

    def add_import(self, record: ImportRecord) -> int:
        result = self._connection.execute(
            insert(t.cems_imports)
            .values(
                sha256=record.sha256,
                source=record.source,
                rows=record.rows,
                inserted=record.inserted,
                unchanged=record.unchanged,
                imported_by=record.imported_by,
                imported_at=record.imported_at,
                months=record.months,
            )
            .returning(t.cems_imports.c.seq)
        )
        seq: int = result.scalar_one()
        return seq

    # -- staging -------------------------------------------------------------------------------

    def start_staging(self) -> None:
        columns = ", ".join(
            f"{name} {kind} NOT NULL"
            for name, kind in zip(STAGE_COLUMNS, _STAGE_TYPES, strict=True)
        )
        if self._postgresql:
            self._sql(f"CREATE TEMP TABLE cems_stage ({columns}) ON COMMIT DROP")
        else:
            self._sql("DROP TABLE IF EXISTS temp.cems_stage")
            self._sql(f"CREATE TEMP TABLE cems_stage ({columns})")
        self._indexed = False

    def stage(self, rows: Sequence[tuple[int, int, str, int, int, int, int, int, str]]) -> None:
        raw: Any = self._connection.connection.driver_connection
        if self._postgresql:
            with (
                raw.cursor() as cursor,
                cursor.copy(f"COPY cems_stage ({', '.join(STAGE_COLUMNS)}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            return
        marks = ", ".join("?" for _ in STAGE_COLUMNS)
        raw.cursor().executemany(f"INSERT INTO cems_stage VALUES ({marks})", rows)

    def _ready(self) -> None:
        """Index the staged rows once, before the first check reads them."""
        if not self._indexed:
            self._sql(
                "CREATE INDEX cems_stage_key ON cems_stage (outlet_seq, pollutant, hour, line)"
            )
            self._sql("ANALYZE cems_stage")
            self._indexed = True

    def duplicate_hours(self, limit: int) -> tuple[int, list[tuple[int, int]]]:
        self._ready()
        count = self._scalar(
            f"SELECT count(*) FROM cems_stage s WHERE EXISTS (SELECT 1 {_EARLIER})"
        )
        if not count:
            return 0, []
        rows = self._rows(
            f"SELECT s.line, (SELECT min(f.line) {_EARLIER}) FROM cems_stage s "
            f"WHERE EXISTS (SELECT 1 {_EARLIER}) ORDER BY s.line LIMIT {int(limit)}"
        )
        return count, [(row[0], row[1]) for row in rows]

    def conflicting_hours(self, limit: int) -> tuple[int, list[tuple[int, int]]]:
        self._ready()
        join = f"FROM cems_stage s JOIN cems_hours h ON {_SAME_KEY} WHERE {_DIFFERENT}"
        count = self._scalar(f"SELECT count(*) {join}")
        if not count:
            return 0, []
        rows = self._rows(f"SELECT s.line, h.import_seq {join} ORDER BY s.line LIMIT {int(limit)}")
        return count, [(row[0], row[1]) for row in rows]

    def unchanged_hours(self) -> int:
        self._ready()
        return self._scalar(
            f"SELECT count(*) FROM cems_stage s JOIN cems_hours h ON {_SAME_KEY} "
            f"WHERE NOT ({_DIFFERENT})"
        )

    def insert_staged(self, import_seq: int) -> int:
        self._ready()
        columns = ", ".join(STAGE_COLUMNS[1:])
        result = self._connection.exec_driver_sql(
            f"INSERT INTO cems_hours ({columns}, import_seq) "
            f"SELECT {', '.join('s.' + c for c in STAGE_COLUMNS[1:])}, {int(import_seq)} "
            f"FROM cems_stage s WHERE NOT EXISTS (SELECT 1 FROM cems_hours h WHERE {_SAME_KEY}) "
            # Key order: appends to the primary key's B-tree instead of scattering pages.
            "ORDER BY s.outlet_seq, s.pollutant, s.hour "
            "ON CONFLICT DO NOTHING"
        )
        return int(result.rowcount)

    def end_staging(self) -> None:
        if not self._postgresql:  # PostgreSQL drops it at commit (ON COMMIT DROP)
            self._sql("DROP TABLE IF EXISTS temp.cems_stage")

    # -- hours and months ----------------------------------------------------------------------

    def hours(
        self, outlet_seq: int, pollutant: str, first_hour: int, end_hour: int
    ) -> list[StoredHour]:
        h = t.cems_hours.c
        query = select(h.hour, h.concentration, h.dry_flow, h.o2, h.valid_minutes, h.flag).where(
            h.outlet_seq == outlet_seq,
            h.pollutant == pollutant,
            h.hour >= first_hour,
            h.hour < end_hour,
        )
        return [StoredHour(*row) for row in self._connection.execute(query)]

    def put_month(self, outlet_seq: int, aggregate: MonthlyAggregate, at: datetime) -> None:
        m = t.cems_months.c
        self._connection.execute(
            delete(t.cems_months).where(
                m.outlet_seq == outlet_seq,
                m.pollutant == aggregate.pollutant,
                m.month == aggregate.month,
            )
        )
        standard = aggregate.standard
        self._connection.execute(
            insert(t.cems_months).values(
                outlet_seq=outlet_seq,
                pollutant=aggregate.pollutant,
                month=aggregate.month,
                hours_received=aggregate.hours_received,
                valid_hours=aggregate.valid_hours,
                valid_days=aggregate.valid_days,
                valid_days_required=aggregate.valid_days_required,
                month_valid=aggregate.month_valid,
                mass_kg=plain(aggregate.mass_kg),
                mean_measured=_text(aggregate.mean_measured),
                mean_on_standard_basis=_text(aggregate.mean_on_standard_basis),
                standard_mg=None if standard is None else str(standard.limit_mg_nm3),
                reference_o2=_text(None if standard is None else standard.reference_o2),
                exceedances=aggregate.exceedances,
                first_exceedance=aggregate.first_exceedance,
                over_range_hours=aggregate.over_range_hours,
                computed_at=at,
                substituted_hours=aggregate.substituted_hours,
                substitution=dict(aggregate.substitution),
                exceedance_hours=_instants(aggregate.exceedance_hours),
            )
        )

    def months(
        self,
        party: str | None,
        outlet: str | None,
        pollutant: str | None,
        first: date,
        last: date,
        *,
        after: int = 0,
        limit: int | None = None,
        scope: Scope = EVERYTHING,
        exceeding: bool = False,
    ) -> list[StoredMonth]:
        m, o = t.cems_months.c, t.outlets.c
        query = (
            select(t.cems_months, o.party_code, o.outlet_code)
            .join(t.outlets, o.seq == m.outlet_seq)
            .where(m.month >= first, m.month <= last, m.seq > after)
            .where(visible_to(scope, o.party_code))
            .order_by(m.seq)
            .limit(limit)
        )
        if party is not None:
            query = query.where(o.party_code == party)
        if outlet is not None:
            query = query.where(o.outlet_code == outlet)
        if pollutant is not None:
            query = query.where(m.pollutant == pollutant)
        if exceeding:
            query = query.where(m.exceedances > 0)
        return [
            StoredMonth(r.seq, r.party_code, _aggregate(r)) for r in self._connection.execute(query)
        ]

    # -- helpers -------------------------------------------------------------------------------

    def _sql(self, statement: str) -> None:
        self._connection.exec_driver_sql(statement)

    def _scalar(self, statement: str) -> int:
        return int(self._connection.exec_driver_sql(statement).scalar_one())

    def _rows(self, statement: str) -> list[Any]:
        return list(self._connection.exec_driver_sql(statement))


def _aggregate(row: Row[Any]) -> MonthlyAggregate:
    standard = None
    if row.standard_mg is not None:
        standard = EmissionStandard(Decimal(row.standard_mg), _decimal(row.reference_o2))
    return MonthlyAggregate(
        outlet=row.outlet_code,
        pollutant=row.pollutant,
        month=row.month,
        standard=standard,
        hours_received=row.hours_received,
        valid_hours=row.valid_hours,
        valid_days=row.valid_days,
        valid_days_required=row.valid_days_required,
        month_valid=row.month_valid,
        mass_kg=Decimal(row.mass_kg),
        mean_measured=_fraction(row.mean_measured),
        mean_on_standard_basis=_fraction(row.mean_on_standard_basis),
        exceedances=row.exceedances,
        first_exceedance=row.first_exceedance,
        impossible_hours=0,
        over_range_hours=row.over_range_hours,
        substituted_hours=row.substituted_hours,
        substitution=_methods(row.substitution),
        exceedance_hours=_from_instants(row.exceedance_hours),
    )


# -- emission reports ----------------------------------------------------------------------------


class SqlReportRepository:
    """Emission reports and their lines; the triggers of migration 0005 guard the workflow."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, report: Report, lines: Sequence[ReportLine]) -> None:
        self._connection.execute(insert(t.emission_reports).values(**_report_values(report)))
        if lines:
            self._connection.execute(
                insert(t.emission_report_lines),
                [_line_values(report.id, number, line) for number, line in enumerate(lines, 1)],
            )

    def get(self, report_id: str, *, lock: bool = False) -> Report | None:
        query = _reports().where(t.emission_reports.c.id == report_id)
        if lock:
            query = query.with_for_update(of=t.emission_reports)
        row = self._connection.execute(query).first()
        return None if row is None else _report(row)

    def lines(self, report_id: str) -> list[ReportLine]:
        query = (
            select(t.emission_report_lines)
            .where(t.emission_report_lines.c.report_id == report_id)
            .order_by(t.emission_report_lines.c.line_no)
        )
        return [_line(row) for row in self._connection.execute(query)]

    def of_party(self, party: str) -> list[Report]:
        query = _reports().where(t.emission_reports.c.party_code == party)
        return [_report(row) for row in self._connection.execute(query)]

    def update(self, report: Report) -> None:
        """Write the workflow's columns (status and who did what when); the rest never change."""
        values = {key: value for key, value in _report_values(report).items() if key in _WORKFLOW}
        self._connection.execute(
            update(t.emission_reports).where(t.emission_reports.c.id == report.id).values(**values)
        )

    def verified_covering(self, party: str, month: date) -> Report | None:
        r = t.emission_reports.c
        query = _reports().where(
            r.party_code == party,
            r.status == ReportStatus.VERIFIED.value,
            r.first_month <= month,
            r.last_month >= month,
        )
        row = self._connection.execute(query).first()
        return None if row is None else _report(row)

    def list(
        self,
        party: str | None,
        status: ReportStatus | None,
        after: int,
        limit: int,
        *,
        scope: Scope = EVERYTHING,
    ) -> list[tuple[int, Report]]:
        r = t.emission_reports.c
        query = _reports().where(r.seq > after, visible_to(scope, r.party_code))
        query = query.order_by(r.seq).limit(limit)
        if party is not None:
            query = query.where(r.party_code == party)
        if status is not None:
            query = query.where(r.status == status.value)
        return [(row.seq, _report(row)) for row in self._connection.execute(query)]


_WORKFLOW = frozenset(
    {
        "status",
        "submitted_by",
        "submitted_at",
        "decided_by",
        "decided_at",
        "decision_note",
        "invalidated_by",
        "invalidated_at",
        "invalidation_reason",
    }
)


def _reports() -> Any:
    """Reports with the id of their successor (the version that supersedes them), if any."""
    successor = t.emission_reports.alias("successor")
    return select(t.emission_reports, successor.c.id.label("superseded_by")).outerjoin(
        successor, successor.c.supersedes == t.emission_reports.c.id
    )


def _report_values(report: Report) -> dict[str, Any]:
    return {
        "id": report.id,
        "party_code": report.party,
        "period": str(report.period),
        "first_month": report.period.first_month,
        "last_month": report.period.last_month,
        "version": report.version,
        "supersedes": report.supersedes,
        "status": report.status.value,
        "created_by": report.created_by,
        "created_at": report.created_at,
        "submitted_by": report.submitted_by,
        "submitted_at": report.submitted_at,
        "decided_by": report.decided_by,
        "decided_at": report.decided_at,
        "decision_note": report.decision_note,
        "invalidated_by": report.invalidated_by,
        "invalidated_at": report.invalidated_at,
        "invalidation_reason": report.invalidation_reason,
    }


def _report(row: Row[Any]) -> Report:
    return Report(
        id=row.id,
        party=row.party_code,
        period=Period.parse(row.period),
        version=row.version,
        status=ReportStatus(row.status),
        created_by=row.created_by,
        created_at=row.created_at,
        supersedes=row.supersedes,
        submitted_by=row.submitted_by,
        submitted_at=row.submitted_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        decision_note=row.decision_note,
        invalidated_by=row.invalidated_by,
        invalidated_at=row.invalidated_at,
        invalidation_reason=row.invalidation_reason,
        superseded_by=row.superseded_by,
    )


def _line_values(report_id: str, number: int, line: ReportLine) -> dict[str, Any]:
    return {
        "report_id": report_id,
        "line_no": number,
        "month": line.month,
        "outlet_code": line.outlet,
        "pollutant": line.pollutant.value,
        "measured_as": line.measured_as,
        "method": line.method.value,
        "mass_kg": plain(line.mass_kg),
        "mean_concentration": _text(line.mean_concentration),
        "standard_mg": _text(line.standard_mg),
        "reference_o2": _text(line.reference_o2),
        "exceedances": line.exceedances,
        "month_valid": line.month_valid,
        "valid_hours": line.valid_hours,
        "valid_days": line.valid_days,
        "substituted_hours": line.substituted_hours,
        "substitution": dict(line.substitution),
        "exceedance_hours": _instants(line.exceedance_hours),
    }


def _line(row: Row[Any]) -> ReportLine:
    return ReportLine(
        month=row.month,
        outlet=row.outlet_code,
        pollutant=Pollutant(row.pollutant),
        measured_as=row.measured_as,
        method=Method(row.method),
        mass_kg=Decimal(row.mass_kg),
        mean_concentration=_fraction(row.mean_concentration),
        standard_mg=_decimal(row.standard_mg),
        reference_o2=_decimal(row.reference_o2),
        exceedances=row.exceedances,
        month_valid=row.month_valid,
        valid_hours=row.valid_hours,
        valid_days=row.valid_days,
        substituted_hours=row.substituted_hours,
        substitution=_methods(row.substitution),
        exceedance_hours=_from_instants(row.exceedance_hours),
    )
