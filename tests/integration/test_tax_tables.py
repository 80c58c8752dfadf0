"""The tax tables as data (rules.md §7.6) through the services and the database: the migrated
seed, the national-minimum worked case, an administrator's entries with four eyes, the table in
force for each month, the tier following the place, and the per-outlet and annual totals."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ledger.domain.access import Actor, Pending, Role, SelfApproval
from ledger.domain.errors import InvalidField, LedgerError, RecordExists
from ledger.domain.registry import Party, PartyKind
from ledger.domain.reports import ReportLine
from ledger.domain.tax_filing import Quarter
from ledger.domain.tax_tables import (
    HEBEI,
    NATIONAL_MINIMUM,
    EquivalentValue,
    Membership,
    Placement,
    Rate,
    RateCategory,
    TableValue,
    TierWithoutRates,
    statutory_tables,
)
from ledger.persistence.store import Store
from ledger.services import approvals, parties, tax, tax_tables
from tests.factories import actor
from tests.integration.tax_support import (
    P,
    build_tax_registry,
    filer,
    line,
    regulator,
    verified_report,
    worked_example,
)

D = Decimal
Q2 = Quarter(2026, 2)
APRIL, MAY, JUNE = Q2.months()


@pytest.fixture
def registry(store: Store) -> Store:
    """The tax registry, and E09 in Taiyuan (Shanxi): no provincial scheme covers it here."""
    build_tax_registry(store)
    parties.register_party(
        store, regulator(store), Party("E09", PartyKind.ENTERPRISE, "E09", city="Taiyuan")
    )
    return store


def admin(store: Store, name: str) -> Actor:
    return actor(store, Role.ADMINISTRATOR, principal=name, person=name)


def record(store: Store, entry_id: str, valid_from: date, value: TableValue) -> None:
    """An administrator asks, a second one approves: the entry is recorded."""
    asked = tax_tables.record_entry(store, admin(store, "admin-1"), entry_id, valid_from, value)
    assert isinstance(asked, Pending)
    approvals.approve(store, admin(store, "admin-2"), asked.request.id)


def so2_line(month: date) -> ReportLine:
    """One outlet, one month: SO2 1,200 kg at a monthly mean of 120 mg/m³, standard 200."""
    return line(month, P.SO2, "120", "200", mass=D("1200"))


def test_the_migration_seeds_the_statutory_tables(store: Store) -> None:
    with store() as uow:
        seeded = uow.tax.table_entries()
    expected = statutory_tables().entries
    assert [(e.id, e.valid_from, e.value) for e in seeded] == [
        (e.id, e.valid_from, e.value) for e in expected
    ]
    assert {e.recorded_by for e in seeded} == {"migration-0019"}


def test_the_national_minimum_worked_case_is_1136_84(registry: Store) -> None:
    """1,200 kg / 0.95 = 1,263.157… eq × 1.2 = 1,515.79 before; 120/200 = 0.6 < 0.7: × 0.75
    = 1,136.842… → 1,136.84 due (rules §1.1, §1.3; the line is rounded once, half-up)."""
    verified_report(registry, "E09", "2026Q2", [so2_line(APRIL)])

    filed = tax.file_return(registry, filer(registry, "E09"), "E09", Q2).record

    april = filed.computed.months[0]
    so2 = april.line("SINTER-1", P.SO2)
    assert april.placement == NATIONAL_MINIMUM
    assert (so2.rate, so2.factor, so2.tax_before, so2.tax_due) == (
        D("1.2"),
        D("0.75"),
        D("1515.79"),
        D("1136.84"),
    )
    assert (filed.computed.total_due, filed.computed.total_reduction) == (D("1136.84"), D("378.95"))
    stored = tax.get_return(registry, filer(registry, "E09"), filed.id)
    assert stored.computed == filed.computed  # the placement is kept with the return


def test_the_tier_follows_the_county_then_the_city(registry: Store) -> None:
    """E07 (Sanhe, Langfang) is tier 1 by its county; a Langfang enterprise elsewhere is tier 2
    by its city; E01 (Tangshan) tier 3; E09 (Taiyuan) the national minimum."""
    parties.register_party(
        registry, regulator(registry), Party("E10", PartyKind.ENTERPRISE, "E10", city="Langfang")
    )
    reader = regulator(registry)
    placements = {
        code: tax_tables.schedule_of(registry, reader, code, APRIL).placement
        for code in ("E07", "E10", "E01", "E09")
    }
    assert placements == {
        "E07": Placement(HEBEI, "1"),
        "E10": Placement(HEBEI, "2"),
        "E01": Placement(HEBEI, "3"),
        "E09": NATIONAL_MINIMUM,
    }
    schedule = tax_tables.schedule_of(registry, reader, "E07", APRIL)
    assert schedule.rate(P.SO2) == D("9.6")
    assert schedule.equivalent_value(P.SO2) == D("0.95")


def test_an_entry_takes_four_eyes_and_applies_from_its_month(registry: Store) -> None:
    """Tier 3's SO2/NOx rate raised to 6.0 from May: April keeps 4.8, May and June take 6.0;
    the initiator cannot approve their own request."""
    raised = Rate(HEBEI, "3", RateCategory.SO2_NOX, D("6.0"))
    asked = tax_tables.record_entry(registry, admin(registry, "admin-1"), "r-3", MAY, raised)
    assert isinstance(asked, Pending)
    with pytest.raises(SelfApproval):
        approvals.approve(registry, admin(registry, "admin-1"), asked.request.id)
    assert tax_tables.schedule_of(registry, regulator(registry), "E01", MAY).rate(P.SO2) == D("4.8")

    approvals.approve(registry, admin(registry, "admin-2"), asked.request.id)

    verified_report(registry, "E01", "2026Q2", [x for m in (APRIL, MAY) for x in worked_example(m)])
    computed = tax.compute_quarter(registry, regulator(registry), "E01", Q2).computed
    april, may, _ = computed.months
    assert april.line("SINTER-1", P.SO2).rate == D("4.8")
    assert april.total_due == D("248661.79")  # the worked example, unchanged
    assert may.line("SINTER-1", P.SO2).rate == D("6.0")
    assert may.line("SINTER-1", P.SOOT).rate == D("4.8")  # another category: untouched


def test_a_county_moves_tier_from_a_month(registry: Store) -> None:
    """Tangshan's Fengnan county joins tier 2 from June: its enterprise is taxed at tier 2 from
    June, the rest of Tangshan stays tier 3."""
    parties.register_party(
        registry,
        regulator(registry),
        Party("E11", PartyKind.ENTERPRISE, "E11", city="Tangshan", county="Fengnan"),
    )
    record(registry, "m-fengnan", JUNE, Membership("Tangshan", "Fengnan", HEBEI, "2"))
    reader = regulator(registry)

    def tier(code: str, month: date) -> str:
        return tax_tables.schedule_of(registry, reader, code, month).placement.tier

    assert (tier("E11", MAY), tier("E11", JUNE), tier("E01", JUNE)) == ("3", "2", "3")


def test_a_correction_for_the_same_month_supersedes_and_history_stays(registry: Store) -> None:
    record(registry, "eq-so2-a", MAY, EquivalentValue(P.SO2, D("0.9")))
    record(registry, "eq-so2-b", MAY, EquivalentValue(P.SO2, D("0.95")))
    reader = regulator(registry)
    assert tax_tables.schedule_of(registry, reader, "E01", MAY).equivalent_value(P.SO2) == D("0.95")
    listed = tax_tables.list_entries(registry, reader, None, None, 200).items
    assert [e.id for e in listed][-2:] == ["eq-so2-a", "eq-so2-b"]


@pytest.mark.parametrize(
    ("valid_from", "value", "field"),
    [
        (date(2026, 5, 2), Rate(HEBEI, "3", RateCategory.SO2_NOX, D("6")), "valid_from"),
        (MAY, Rate(HEBEI, "3", RateCategory.SO2_NOX, D("12.01")), "cny_per_equivalent"),
        (MAY, Rate(HEBEI, "3", RateCategory.COD_NH3N, D("1.39")), "cny_per_equivalent"),
        (MAY, Rate("national", "1", RateCategory.SO2_NOX, D("1.2")), "tier"),
        (MAY, Rate("Hebei!", "3", RateCategory.SO2_NOX, D("6")), "scheme"),
        (MAY, EquivalentValue(P.SO2, D("0")), "kg_per_equivalent"),
        (MAY, Membership("", "", HEBEI, "1"), "city"),
    ],
)
def test_an_entry_the_tables_cannot_hold_is_refused_when_asked(
    registry: Store, valid_from: date, value: TableValue, field: str
) -> None:
    with pytest.raises(InvalidField) as refused:
        tax_tables.record_entry(registry, admin(registry, "admin-1"), "bad", valid_from, value)
    assert refused.value.field == field


def test_a_place_cannot_join_a_tier_without_rates(registry: Store) -> None:
    with pytest.raises(TierWithoutRates):
        tax_tables.record_entry(
            registry,
            admin(registry, "admin-1"),
            "m-x",
            MAY,
            Membership("Tangshan", "", HEBEI, "4"),
        )


def test_an_entry_id_answers_its_request_or_refuses_another(registry: Store) -> None:
    """Asked again after it was recorded: its (applied) request, as a replay; another entry
    under the id, or the same one asked by someone else, is refused."""
    value = Rate(HEBEI, "2", RateCategory.OTHER_AIR, D("5.0"))
    record(registry, "r-2", MAY, value)
    again = tax_tables.record_entry(registry, admin(registry, "admin-1"), "r-2", MAY, value)
    assert isinstance(again, Pending) and again.replayed
    assert again.request.state.value == "applied"
    other = Rate(HEBEI, "2", RateCategory.OTHER_AIR, D("5.5"))
    with pytest.raises(RecordExists):
        tax_tables.record_entry(registry, admin(registry, "admin-1"), "r-2", MAY, other)
    with pytest.raises(RecordExists):
        tax_tables.record_entry(registry, admin(registry, "admin-3"), "r-2", MAY, value)
    with registry() as uow:
        assert [e.id for e in uow.tax.table_entries()].count("r-2") == 1


def test_only_an_administrator_records_an_entry(registry: Store) -> None:
    value = Rate(HEBEI, "2", RateCategory.OTHER_AIR, D("5.0"))
    with pytest.raises(LedgerError) as refused:
        tax_tables.record_entry(registry, regulator(registry), "r-x", MAY, value)
    assert refused.value.code == "forbidden"


def test_returns_give_per_outlet_and_annual_totals(registry: Store) -> None:
    """Two outlets in Q2; the year's totals sum the return in force of each quarter filed."""
    lines = [
        *worked_example(APRIL),
        *worked_example(APRIL, "SINTER-2"),
        line(APRIL, P.CO, "1", "100", mass=D("16.7")),  # 1 eq: ranks 4th, untaxed
    ]
    verified_report(registry, "E01", "2026Q2", lines)
    filed = tax.file_return(registry, filer(registry), "E01", Q2).record

    outlets = {o.outlet: (o.tax_before, o.tax_due) for o in filed.computed.outlets}
    assert outlets == {
        "SINTER-1": (D("273342.73"), D("248661.79")),
        "SINTER-2": (D("273342.73"), D("248661.79")),
    }
    co = filed.computed.months[0].line("SINTER-1", P.CO)
    assert not co.taxed and co.tax_due == 0

    annual = tax.annual_tax(registry, filer(registry), "E01", 2026)
    assert [r.id for r in annual.returns] == [filed.id]
    assert annual.quarters_without_return == (1, 3, 4)
    assert (annual.total_due, annual.total_reduction) == (D("497323.58"), D("49361.88"))
    assert [o.outlet for o in annual.outlets] == ["SINTER-1", "SINTER-2"]
