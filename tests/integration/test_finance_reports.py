"""Finance reports on a small registry with a settled trade: supply reconciles to zero, a
party's statement carries running balances, the trades report and the public market report
(anonymised, volume-weighted) agree, and exports equal the rows they came from. A scoped reader
sees its own parties only: another's report is the 404 of an unknown party."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from ledger.domain.access import Actor, Role, Scope
from ledger.domain.errors import LedgerError
from ledger.domain.finance import ReportTable
from ledger.persistence.store import Store
from ledger.services import exports, rights, statements, trading
from ledger.services.rights import ReserveAction, ReserveOperation
from tests.factories import actor
from tests.integration.registry_support import TRADE_DAY, build_registry, entitle, of, so2_trade

YEAR = (date(2026, 1, 1), date(2026, 12, 31))


@pytest.fixture
def registry(store: Store) -> Store:
    build_registry(store)
    e1, e2, hebei = of(store, "E1"), of(store, "E2"), of(store, "HEBEI")
    trading.propose(store, e1, so2_trade("X1"))
    trading.accept(store, e2, "X1")
    trading.record(store, hebei, "X1")
    trading.propose(store, e1, so2_trade("X2", units=5_000, price_fen=700_000))
    trading.accept(store, e2, "X2")
    trading.record(store, hebei, "X2")
    return store


@pytest.fixture
def finance(registry: Store) -> Actor:
    return actor(registry, Role.FINANCE)


def rows(table: ReportTable) -> list[dict[str, object]]:
    names = [c.name for c in table.columns]
    return [dict(zip(names, row, strict=True)) for row in table]


def test_supply_reconciles_to_zero_for_every_instrument(registry: Store, finance: Actor) -> None:
    lines = rows(statements.supply(registry, finance))
    assert lines and all(line["difference"] == 0 for line in lines)
    so2 = next(line for line in lines if line["instrument"] == "SO2-2026")
    assert so2["issued"] == Decimal("110.000") == so2["held"]


def test_supply_as_of_a_day_before_anything_is_empty(registry: Store, finance: Actor) -> None:
    assert rows(statements.supply(registry, finance, date(2000, 1, 1))) == []


def test_a_party_statement_runs_from_its_opening_balance(registry: Store, finance: Actor) -> None:
    table = statements.account_statement(
        registry, finance, "E2", "cash", "CNY", date(2000, 1, 1), date(2100, 1, 1)
    )
    lines = rows(table)
    assert lines[0]["entry_id"] == "opening balance" and lines[0]["balance"] == 0
    assert table.size() == len(lines) == 4  # counted before reading (an export's progress)
    running = Decimal(0)
    for line in lines[1:]:
        running += Decimal(str(line["credit"])) - Decimal(str(line["debit"]))
        assert line["balance"] == running
    # 1,000,000 deposited, then two purchases: value + the buyer's half of the 1.5% fee.
    assert running == Decimal("1000000.00") - Decimal("60450.00") - Decimal("35262.50")
    assert table.totals["debit"] == Decimal("95712.50")


def test_a_scoped_principal_sees_only_its_own_statement(registry: Store) -> None:
    e1 = actor(registry, Role.ENTERPRISE, "E1")
    with pytest.raises(LedgerError) as caught:
        statements.holdings(registry, e1, "E2")
    assert caught.value.code == "party_not_found"
    assert rows(statements.holdings(registry, actor(registry, Role.ENTERPRISE, "E2"), "E2"))


def refusal(call: Callable[[], object]) -> tuple[str, str, str | None]:
    with pytest.raises(LedgerError) as caught:
        call()
    return caught.value.code, caught.value.detail, caught.value.field


@pytest.mark.parametrize("report", ["holdings", "statement"])
def test_another_city_s_party_is_refused_like_an_unknown_party(
    registry: Store, report: str
) -> None:
    tangshan = actor(registry, Role.CITY_AUTHORITY, "TANGSHAN")

    def ask(party: str) -> Callable[[], object]:
        if report == "holdings":
            return lambda: statements.holdings(registry, tangshan, party)
        return lambda: statements.account_statement(registry, tangshan, party, "cash", "CNY", *YEAR)

    out_of_scope, unknown = refusal(ask("E3")), refusal(ask("E9"))
    assert out_of_scope == ("party_not_found", "party 'E3' not found", "code")
    assert unknown == ("party_not_found", "party 'E9' not found", "code")
    assert rows(statements.holdings(registry, tangshan, "E2"))  # its own city's enterprise


def test_the_report_queries_filter_by_scope_in_the_query(registry: Store) -> None:
    with registry() as uow:
        far = date(2100, 1, 1)
        moment = datetime(2100, 1, 1, tzinfo=UTC)
        e1 = uow.finance.trades_between(TRADE_DAY, far, None, 0, 1, scope=Scope(party="E1"))
        xingtai = uow.finance.trades_between(
            TRADE_DAY, far, None, 0, 10, scope=Scope(city="Xingtai")
        )
        nets = uow.finance.account_nets("CNY", None, moment, "effective", scope=Scope(party="E2"))
    assert [trade.id for _, trade in e1] == ["X1"] and xingtai == []
    assert nets and {net.party for net in nets} == {"E2"}


def test_the_market_report_is_volume_weighted_and_names_no_party(registry: Store) -> None:
    # Two trades between E1 and E2 only: suppressed (rules §7.11).
    (line,) = rows(statements.market_report(registry, *YEAR))
    assert (line["quarter"], line["market"], line["pollutant"]) == ("2026-Q1", "bilateral", "SO2")
    assert (line["trades"], line["volume_weighted_price_cny"], line["suppressed"]) == (
        None,
        None,
        "yes",
    )
    # A third trade, with a third party: the cell shows its figures.
    e1, e4 = of(registry, "E1"), of(registry, "E4")
    trading.propose(registry, e1, so2_trade("X3", buyer="E4", units=5_000, price_fen=800_000))
    trading.accept(registry, e4, "X3")
    trading.record(registry, of(registry, "HEBEI"), "X3")

    (line,) = rows(statements.market_report(registry, *YEAR))
    assert line["trades"] == 3 and line["volume"] == Decimal("20.000")
    # (10 t × 6,000 + 5 t × 7,000 + 5 t × 8,000) / 20 t = 6,750.00 CNY/t (half-up to the fen)
    assert line["volume_weighted_price_cny"] == Decimal("6750.00")
    assert line["suppressed"] == "no"
    text = "".join(exports.json_chunks(statements.market_report(registry, *YEAR)))
    assert "E1" not in text and "E2" not in text and "E4" not in text


def test_the_trades_report_sums_the_values_of_settled_trades(
    registry: Store, finance: Actor
) -> None:
    table = statements.trades(registry, finance, TRADE_DAY, TRADE_DAY)
    assert [line["trade_id"] for line in rows(table)] == ["X1", "X2"]
    assert table.totals["value_cny"] == Decimal("95000.00")


def test_csv_and_xlsx_exports_carry_the_totals_of_the_rows(registry: Store, finance: Actor) -> None:
    def table() -> ReportTable:
        return statements.trial_balance(registry, finance, "CNY")

    reference = table()
    all_rows = rows(reference)
    debit = sum((Decimal(str(r["debit"])) for r in all_rows), Decimal(0))
    assert reference.totals["debit"] == debit == reference.totals["credit"]

    lines = list(csv.reader(io.StringIO("".join(exports.csv_chunks(table())))))
    assert lines[-1][:1] == ["total"] and Decimal(lines[-1][3]) == debit

    buffer = io.BytesIO()
    exports.write_xlsx(table(), buffer)
    sheet = load_workbook(io.BytesIO(buffer.getvalue())).active
    assert sheet is not None
    last = [cell.value for cell in sheet[sheet.max_row]]
    assert last[0] == "total" and Decimal(str(last[3])) == debit


def test_tax_returns_report_is_empty_without_filed_returns(registry: Store, finance: Actor) -> None:
    table = statements.tax_returns(registry, finance, 2026)
    assert rows(table) == [] and table.totals == {
        "tax_before_reduction_cny": 0,
        "reduction_cny": 0,
        "tax_due_cny": 0,
    }


def test_reserve_sales_and_buy_backs_booked_as_reserve_operations_are_reported_apart(
    registry: Store,
) -> None:
    """Rules §7.11: reserve sales apart from bilateral trades. A sale booked as a reserve
    operation (a decision, not a listing) is a reserve sale all the same; the reserve's
    buy-backs, public money paid out, are a market of their own, never averaged into a sale
    price. The same suppression applies: the authority counts as one party."""
    entitle(registry, "TANGSHAN", "SO2", 50_000)
    tangshan = of(registry, "TANGSHAN")
    for op_id, action, party, units, price, day in (
        ("S1", ReserveAction.SALE, "E1", 2_000, 600_000, date(2026, 4, 10)),
        ("S2", ReserveAction.SALE, "E2", 3_000, 550_000, date(2026, 5, 10)),
        ("S3", ReserveAction.SALE, "E1", 1_000, 700_000, date(2026, 6, 30)),
        ("B1", ReserveAction.BUY_BACK, "E2", 1_000, 500_000, date(2026, 5, 20)),
    ):
        operation = ReserveOperation(
            op_id, action, "TANGSHAN", "SO2", units, 2026, 2026, party, price, day
        )
        rights.reserve_operation(registry, tangshan, operation)

    cells = {
        (line["quarter"], line["market"]): line
        for line in rows(statements.market_report(registry, *YEAR))
    }

    assert sorted(cells) == [
        ("2026-Q1", "bilateral"),
        ("2026-Q2", "buy_back"),
        ("2026-Q2", "reserve"),
    ]
    sold = cells[("2026-Q2", "reserve")]
    assert (sold["trades"], sold["volume"], sold["value_cny"]) == (
        3,
        Decimal("6.000"),
        Decimal("35500.00"),
    )
    # (2 t × 6,000 + 3 t × 5,500 + 1 t × 7,000) / 6 t = 5,916.67 CNY/t (half-up to the fen)
    assert (sold["volume_weighted_price_cny"], sold["suppressed"]) == (Decimal("5916.67"), "no")
    bought = cells[("2026-Q2", "buy_back")]  # one buy-back: its price is one decision's
    assert (bought["trades"], bought["value_cny"], bought["suppressed"]) == (None, None, "yes")
    first_quarter = rows(statements.market_report(registry, date(2026, 1, 1), date(2026, 3, 31)))
    assert [line["market"] for line in first_quarter] == ["bilateral"]
    text = "".join(exports.json_chunks(statements.market_report(registry, *YEAR)))
    assert "TANGSHAN" not in text and "E1" not in text
