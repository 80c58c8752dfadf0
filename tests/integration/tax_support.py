"""Builders for the tax and incentive tests: a small registry, verified reports, facts.

Reports are written through the report repository along the workflow (draft → submitted →
verified by another principal) so the database's own guards apply; invalidation is done the
way the report workflow does it: the report's status and `reverse_for_report` in one unit of
work.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from fractions import Fraction

from ledger.domain.access import Actor, Role
from ledger.domain.registry import Party, PartyKind
from ledger.domain.reports import Method, Period, Report, ReportLine, ReportStatus, report_id
from ledger.domain.tax_tables import Pollutant
from ledger.persistence.store import Store
from ledger.services import incentives, parties, rights
from tests.factories import actor, known_city

D = Decimal
P = Pollutant
SINTER_FLOW = D(1_200_000)
SINTER_HOURS = 720
REGULATOR_ID = "regulator-1"


def regulator(store: Store) -> Actor:
    return actor(store, Role.REGULATOR, principal=REGULATOR_ID)


def filer(store: Store, party: str = "E01") -> Actor:
    """The enterprise's filer ("e01-filer" for E01): its scope is its enterprise."""
    return actor(store, Role.ENTERPRISE, party, principal=f"{party.lower()}-filer")


def build_tax_registry(store: Store) -> None:
    """HEBEI (authority), Tangshan; E01 and E02 in Tangshan (tier 3 by the seeded membership);
    E07 in Sanhe, Langfang (tier 1)."""
    registrar = regulator(store)
    parties.register_party(store, registrar, Party("HEBEI", PartyKind.AUTHORITY, "Hebei"))
    parties.register_party(store, registrar, Party("EXCHANGE", PartyKind.EXCHANGE, "Exchange"))
    known_city(store, registrar, "Tangshan", may_receive=True)
    parties.register_party(
        store, registrar, Party("TANGSHAN", PartyKind.AUTHORITY, "Tangshan city", city="Tangshan")
    )
    for code, city, county in (
        ("E01", "Tangshan", ""),
        ("E02", "Tangshan", ""),
        ("E07", "Langfang", "Sanhe"),
    ):
        parties.register_party(
            store, registrar, Party(code, PartyKind.ENTERPRISE, code, city=city, county=county)
        )
    for code in ("E01", "E02", "E07"):
        rights.deposit_cash(store, regulator(store), f"{code}-start", code, 100_000_000)


def sinter_mass(concentration: str, hours: int = SINTER_HOURS) -> Decimal:
    """kg in `hours` at 1,200,000 Nm³/h: c (mg/Nm³) × Q × hours × 1e-6."""
    return D(concentration) * SINTER_FLOW * hours * D("1E-6")


def line(
    month: date,
    pollutant: Pollutant,
    mean: str,
    standard: str,
    *,
    outlet: str = "SINTER-1",
    mass: Decimal | None = None,
    exceedances: int = 0,
    month_valid: bool = True,
) -> ReportLine:
    return ReportLine(
        month=month,
        outlet=outlet,
        pollutant=pollutant,
        measured_as=pollutant.value,
        method=Method.CEMS,
        mass_kg=sinter_mass(mean) if mass is None else mass,
        mean_concentration=Fraction(D(mean)),
        standard_mg=D(standard),
        exceedances=exceedances,
        month_valid=month_valid,
    )


def worked_example(
    month: date, outlet: str = "SINTER-1", *, exceedances: int = 0
) -> list[ReportLine]:
    """Rules §1.3: NOx 40/50, SO2 20/35, soot 6/10 at 1,200,000 Nm³/h × 720 h."""
    return [
        line(month, P.NOX, "40", "50", outlet=outlet, exceedances=exceedances),
        line(month, P.SO2, "20", "35", outlet=outlet),
        line(month, P.SOOT, "6", "10", outlet=outlet),
    ]


def verified_report(
    store: Store, party: str, period: str, lines: list[ReportLine], *, version: int = 1
) -> str:
    """A report of `party` for `period` with `lines`, submitted and verified; its id.
    A later `version` supersedes the previous one (a correction)."""
    parsed = Period.parse(period)
    with store() as uow:
        now = uow.now()
        draft = Report(
            id=report_id(party, parsed, version),
            party=party,
            period=parsed,
            version=version,
            supersedes=None if version == 1 else report_id(party, parsed, version - 1),
            status=ReportStatus.DRAFT,
            created_by=f"{party}-user",
            created_at=now,
        )
        uow.reports.add(draft, lines)
        submitted = replace(
            draft,
            status=ReportStatus.SUBMITTED,
            submitted_by=f"{party}-user",
            submitted_at=now,
        )
        uow.reports.update(submitted)
        verified = replace(
            submitted, status=ReportStatus.VERIFIED, decided_by="verifier-1", decided_at=now
        )
        uow.reports.update(verified)
        uow.commit()
    return draft.id


def invalidate(store: Store, report: str, reason: str = "data tampering found") -> None:
    """What the report workflow does: status invalidated and every incentive reversed, at once."""
    with store() as uow:
        found = uow.reports.get(report, lock=True)
        assert found is not None
        uow.reports.update(
            replace(
                found,
                status=ReportStatus.INVALIDATED,
                invalidated_by=REGULATOR_ID,
                invalidated_at=uow.now(),
                invalidation_reason=reason,
            )
        )
        incentives.reverse_for_report(uow, report, reason)
        uow.commit()
