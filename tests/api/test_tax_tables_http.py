"""The tax tables over HTTP (rules.md §7.6): the national-minimum worked case filed end to end,
an administrator's entry with four eyes changing the tax from its month, a county moving tier,
refusals, untaxed lines without a rate or factor, and the per-outlet and annual totals."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledger.domain.access import Role
from ledger.domain.registry import Outlet, Party, PartyKind
from ledger.domain.reports import Method, Period, ReportLine
from ledger.persistence.store import Store
from ledger.services import parties, reports
from tests.api.support import REPLAYED, assert_problem, headers_for
from tests.factories import actor
from tests.integration.monitoring_support import set_permit
from tests.integration.tax_support import P, build_tax_registry, line, regulator, worked_example

QUARTER = "2026Q2"
APRIL, MAY, JUNE = date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1)
Json = dict[str, Any]


def store_of(client: TestClient) -> Store:
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    return store


@pytest.fixture
def taxed(client: TestClient) -> TestClient:
    """The tax registry, E09 in Taiyuan (no provincial scheme) and E11 in Tangshan's Fengnan."""
    store = store_of(client)
    build_tax_registry(store)
    registrar = regulator(store)
    for code, city, county in (("E09", "Taiyuan", ""), ("E11", "Tangshan", "Fengnan")):
        parties.register_party(
            store,
            registrar,
            Party(code, PartyKind.ENTERPRISE, code, city=city, county=county),
        )
    # The permits' standards: the national-minimum case's SO2 200 for E09, the worked example's
    # SO2 35 for the others (a line never states its own).
    for party in ("E01", "E09", "E11"):
        so2 = "200" if party == "E09" else "35"
        standards = {"SO2": so2, "NOx": "50", "PM": "10", "CO": "100"}
        for outlet in ("SINTER-1", "SINTER-2"):
            parties.add_outlet(store, registrar, Outlet(party, outlet))
            set_permit(store, party, outlet, standards, o2="16")
    return client


def verified(client: TestClient, party: str, lines: list[ReportLine]) -> str:
    """A verified Q2 report of an agency's lines, through the workflow."""
    store = store_of(client)
    filer = actor(store, Role.ENTERPRISE, party, principal=f"{party.lower()}-filer")
    verifier = actor(store, Role.VERIFIER, principal="verifier-1")
    content = reports.Content(
        from_monitoring=False,
        # The standard is the outlet's permit's, never the line's.
        lines=tuple(replace(x, method=Method.AGENCY, standard_mg=None) for x in lines),
    )
    view = reports.draft_report(store, filer, party, Period.parse(QUARTER), content).record
    reports.submit_report(store, filer, view.report.id)
    reports.verify_report(store, verifier, view.report.id)
    return view.report.id


def admins(client: TestClient) -> tuple[dict[str, str], dict[str, str]]:
    return (
        headers_for(client, "administrator", principal="administrator-1"),
        headers_for(client, "administrator", principal="administrator-2"),
    )


def record(client: TestClient, body: Json) -> Json:
    """Asked by one administrator (202), approved by another: the recorded entry."""
    asking, approving = admins(client)
    asked = client.post("/v1/tax/tables", json=body, headers=asking)
    assert asked.status_code == 202, asked.text
    assert asked.json()["operation"] == "tax_table"
    approved = client.post(f"/v1/approvals/{asked.json()['id']}/approve", headers=approving)
    assert approved.status_code == 200, approved.text
    result: Json = approved.json()["result"]["record"]
    return result


def test_the_national_minimum_worked_case_over_http(taxed: TestClient) -> None:
    """SO2 1,200 kg at 120 mg/m³ against 200, national minimum: 1,136.84 CNY due."""
    verified(taxed, "E09", [line(APRIL, P.SO2, "120", "200", mass=Decimal("1200"))])
    e09 = headers_for(taxed, "enterprise", party="E09")

    filed = taxed.post("/v1/tax/returns", json={"party": "E09", "quarter": QUARTER}, headers=e09)

    assert filed.status_code == 201, filed.text
    april = filed.json()["months"][0]
    assert (april["scheme"], april["tier"]) == ("national", "minimum")
    so2 = april["lines"][0]
    assert (so2["rate"], so2["factor"], so2["tax_before"], so2["tax_due"]) == (
        "1.2",
        "0.75",
        "1515.79",
        "1136.84",
    )
    assert (filed.json()["total_due"], filed.json()["total_reduction"]) == ("1136.84", "378.95")
    again = taxed.get(f"/v1/tax/returns/{filed.json()['id']}", headers=e09)
    assert again.json()["months"][0]["tier"] == "minimum"


def test_an_administrators_rate_applies_from_its_month_after_approval(taxed: TestClient) -> None:
    verified(taxed, "E01", [x for m in (APRIL, MAY) for x in worked_example(m)])
    e01 = headers_for(taxed, "enterprise", party="E01")
    body = {
        "id": "hebei-3-so2-2026-05",
        "kind": "rate",
        "valid_from": "2026-05-01",
        "scheme": "hebei",
        "tier": "3",
        "category": "so2_nox",
        "cny_per_equivalent": "6.0",
    }
    asking, _ = admins(taxed)
    asked = taxed.post("/v1/tax/tables", json=body, headers=asking)
    assert asked.status_code == 202, asked.text
    self_approved = taxed.post(f"/v1/approvals/{asked.json()['id']}/approve", headers=asking)
    assert_problem(self_approved, 422, "self_approval")
    unchanged = taxed.get("/v1/tax/parties/E01/schedule?month=2026-05", headers=e01)
    assert unchanged.json()["rates"]["so2_nox"] == "4.8"

    entry = record(taxed, body)

    assert (entry["id"], entry["recorded_by"]) == (body["id"], "administrator-1")
    schedule = taxed.get("/v1/tax/parties/E01/schedule?month=2026-05", headers=e01).json()
    assert (schedule["scheme"], schedule["tier"], schedule["rates"]["so2_nox"]) == (
        "hebei",
        "3",
        "6.0",
    )
    months = taxed.get(f"/v1/tax/parties/E01/quarters/{QUARTER}", headers=e01).json()["months"]
    assert months[0]["total_due"] == "248661.79"  # April: the worked example, unchanged
    assert {x["pollutant"]: x["rate"] for x in months[1]["lines"]} == {
        "NOx": "6.0",
        "SO2": "6.0",
        "soot": "4.8",
    }
    replayed = taxed.post("/v1/tax/tables", json=body, headers=asking)
    assert (replayed.status_code, replayed.headers.get(REPLAYED)) == (202, "true")
    assert (replayed.json()["state"], replayed.json()["result"]["record"]) == ("applied", entry)
    other = taxed.post("/v1/tax/tables", json={**body, "cny_per_equivalent": "7"}, headers=asking)
    assert_problem(other, 409, "record_exists_with_different_definition", "id")
    listed = taxed.get("/v1/tax/tables?kind=rate&limit=200", headers=e01).json()["entries"]
    assert listed[-1]["id"] == body["id"]


def test_a_county_moves_tier_through_its_membership(taxed: TestClient) -> None:
    record(
        taxed,
        {
            "id": "fengnan-tier-2",
            "kind": "membership",
            "valid_from": "2026-06-01",
            "city": "Tangshan",
            "county": "Fengnan",
            "scheme": "hebei",
            "tier": "2",
        },
    )
    reader = headers_for(taxed, "regulator", party="HEBEI")

    def tier(code: str, month: str) -> str:
        found = taxed.get(f"/v1/tax/parties/{code}/schedule?month={month}", headers=reader)
        assert found.status_code == 200, found.text
        return str(found.json()["tier"])

    assert (tier("E11", "2026-05"), tier("E11", "2026-06"), tier("E01", "2026-06")) == (
        "3",
        "2",
        "3",
    )


@pytest.mark.parametrize(
    ("change", "status", "code", "field"),
    [
        ({"valid_from": "2026-05-02"}, 422, "invalid_field", "valid_from"),
        ({"cny_per_equivalent": "12.5"}, 422, "invalid_field", "cny_per_equivalent"),
        ({"cny_per_equivalent": "abc"}, 422, "invalid_field", "cny_per_equivalent"),
        ({"pollutant": "SO2"}, 422, "invalid_field", "pollutant"),
        ({"category": None}, 422, "invalid_field", "category"),
        ({"kind": "membership", "city": "Tangshan", "county": "", "tier": "9"}, 422,
         "tax_tier_without_rates", "tier"),
    ],
)  # fmt: skip
def test_an_entry_the_tables_cannot_hold_is_refused(
    taxed: TestClient, change: Json, status: int, code: str, field: str
) -> None:
    body = {
        "id": "bad",
        "kind": "rate",
        "valid_from": "2026-05-01",
        "scheme": "hebei",
        "tier": "3",
        "category": "so2_nox",
        "cny_per_equivalent": "6.0",
    }
    if change.get("kind") == "membership":
        body = {k: v for k, v in body.items() if k not in ("category", "cny_per_equivalent")}
    body = {k: v for k, v in {**body, **change}.items() if v is not None}
    asking, _ = admins(taxed)
    assert_problem(taxed.post("/v1/tax/tables", json=body, headers=asking), status, code, field)


def test_untaxed_lines_have_no_rate_or_factor_and_totals_are_per_outlet_and_annual(
    taxed: TestClient,
) -> None:
    verified(
        taxed,
        "E01",
        [
            *worked_example(APRIL),
            *worked_example(APRIL, "SINTER-2"),
            line(APRIL, P.CO, "1", "100", mass=Decimal("16.7")),  # 4th air pollutant: untaxed
        ],
    )
    e01 = headers_for(taxed, "enterprise", party="E01")
    filed = taxed.post("/v1/tax/returns", json={"party": "E01", "quarter": QUARTER}, headers=e01)
    assert filed.status_code == 201, filed.text

    co = next(x for x in filed.json()["months"][0]["lines"] if x["pollutant"] == "CO")
    assert (co["taxed"], co["rate"], co["factor"], co["tax_due"]) == (False, None, None, "0.00")
    assert filed.json()["outlets"] == [
        {
            "outlet": outlet,
            "total_before": "273342.73",
            "total_reduction": "24680.94",
            "total_due": "248661.79",
        }
        for outlet in ("SINTER-1", "SINTER-2")
    ]
    annual = taxed.get("/v1/tax/parties/E01/years/2026", headers=e01)
    assert annual.status_code == 200, annual.text
    body = annual.json()
    assert [r["quarter"] for r in body["returns"]] == ["2026Q2"]
    assert (body["quarters_without_return"], body["total_due"]) == ([1, 3, 4], "497323.58")
    assert [o["outlet"] for o in body["outlets"]] == ["SINTER-1", "SINTER-2"]
    other = headers_for(taxed, "enterprise", party="E09")
    assert_problem(
        taxed.get("/v1/tax/parties/E01/years/2026", headers=other), 404, "party_not_found"
    )
