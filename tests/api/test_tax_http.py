"""Environmental tax and incentives over HTTP: the worked example filed end to end, scopes,
refusals, and a report's invalidation reversing its incentive (the invariants hold: see the
autouse fixture)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date

import pytest
from fastapi.testclient import TestClient

from ledger.domain.access import Role
from ledger.domain.registry import Outlet
from ledger.domain.reports import Method, Period
from ledger.persistence.store import Store
from ledger.services import parties, reports
from tests.api.support import REPLAYED, assert_problem, headers_for
from tests.factories import actor
from tests.integration.monitoring_support import set_permit
from tests.integration.tax_support import build_tax_registry, regulator, worked_example
from tests.integration.test_reductions import cems_year

QUARTER = "2026Q2"
MONTHS = (date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1))


def store_of(client: TestClient) -> Store:
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    return store


def verified_quarter(client: TestClient, party: str = "E01") -> str:
    """A verified quarterly report of the worked example for each month, through the workflow."""
    store = store_of(client)
    filer = actor(store, Role.ENTERPRISE, party, principal=f"{party.lower()}-filer")
    verifier = actor(store, Role.VERIFIER, principal="verifier-1")
    # An agency's measurements: CEMS lines come only from stored aggregates.
    lines = tuple(
        replace(x, method=Method.AGENCY, standard_mg=None)  # the permit states the standard
        for month in MONTHS
        for x in worked_example(month)
    )
    content = reports.Content(from_monitoring=False, lines=lines)
    view = reports.draft_report(store, filer, party, Period.parse(QUARTER), content).record
    reports.submit_report(store, filer, view.report.id)
    reports.verify_report(store, verifier, view.report.id)
    return view.report.id


@pytest.fixture
def taxed(client: TestClient) -> TestClient:
    build_tax_registry(store_of(client))
    standards = {"SO2": "35", "NOx": "50", "PM": "10"}
    registrar = regulator(store_of(client))
    for party in ("E01", "E02"):
        parties.add_outlet(store_of(client), registrar, Outlet(party, "SINTER-1"))
        set_permit(store_of(client), party, "SINTER-1", standards, o2="16")
    return client


def test_the_worked_example_is_computed_and_filed_to_the_fen_over_http(taxed: TestClient) -> None:
    report = verified_quarter(taxed)
    e01 = headers_for(taxed, "enterprise", party="E01")

    computed = taxed.get(f"/v1/tax/parties/E01/quarters/{QUARTER}", headers=e01)
    assert computed.status_code == 200, computed.text
    april = computed.json()["months"][0]
    assert (april["total_before"], april["total_due"], april["total_reduction"]) == (
        "273342.73",
        "248661.79",
        "24680.94",
    )
    nox = next(x for x in april["lines"] if x["pollutant"] == "NOx")
    assert (nox["equivalents"], nox["factor"], nox["tax_due"], nox["ratio"]) == (
        "36378.95",
        "1.00",
        "174618.95",
        "0.8000",
    )

    filed = taxed.post("/v1/tax/returns", json={"party": "E01", "quarter": QUARTER}, headers=e01)
    assert filed.status_code == 201, filed.text
    body = filed.json()
    assert (body["id"], body["total_reduction"], body["report_ids"]) == (
        "E01-2026Q2-r1",
        "74042.82",
        [report],
    )
    assert body["months"] == computed.json()["months"]

    (incentive,) = taxed.get("/v1/incentives", headers=e01).json()["incentives"]
    assert (incentive["amount"], incentive["basis"], incentive["active"]) == (
        "74042.82",
        "74042.82",
        True,
    )
    listed = taxed.get("/v1/tax/returns", params={"party": "E01"}, headers=e01).json()
    assert [r["id"] for r in listed["returns"]] == ["E01-2026Q2-r1"]


def test_invalidating_the_report_reverses_the_incentive_over_http(taxed: TestClient) -> None:
    report = verified_quarter(taxed)
    e01 = headers_for(taxed, "enterprise", party="E01")
    taxed.post("/v1/tax/returns", json={"party": "E01", "quarter": QUARTER}, headers=e01)

    response = taxed.post(f"/v1/reports/{report}/invalidate", json={"reason": "tampered data"})
    assert response.status_code == 200, response.text

    (incentive,) = taxed.get("/v1/incentives").json()["incentives"]
    assert incentive["active"] is False
    assert incentive["reversal"]["reason"] == "report_invalidated"
    assert taxed.get("/v1/tax/returns/E01-2026Q2-r1").json()["void"] is True
    balance = taxed.get("/v1/accounts/E01:tax_incentives/balances/CNY").json()
    assert balance["balance"] == "0.00"
    # The tax stays owed (rules §7.5): an invalidated report owes no less until corrected.
    owed = taxed.get("/v1/accounts/E01:env_tax_owed/balances/CNY").json()
    assert owed["balance"] == "745985.37"


def test_another_enterprises_tax_does_not_exist_for_an_enterprise(taxed: TestClient) -> None:
    verified_quarter(taxed)
    e02 = headers_for(taxed, "enterprise", party="E02")

    assert_problem(
        taxed.get(f"/v1/tax/parties/E01/quarters/{QUARTER}", headers=e02), 404, "party_not_found"
    )
    assert_problem(
        taxed.post("/v1/tax/returns", json={"party": "E01", "quarter": QUARTER}, headers=e02),
        422,
        "unknown_party",
        "party",
    )
    taxed.post("/v1/tax/returns", json={"party": "E01", "quarter": QUARTER})
    hidden = assert_problem(
        taxed.get("/v1/tax/returns/E01-2026Q2-r1", headers=e02), 404, "tax_return_not_found"
    )
    unknown = assert_problem(
        taxed.get("/v1/tax/returns/E01-2026Q2-r2", headers=e02), 404, "tax_return_not_found"
    )
    assert hidden == {**unknown, "detail": unknown["detail"].replace("r2", "r1")}
    assert taxed.get("/v1/incentives", headers=e02).json()["incentives"] == []
    assert taxed.get("/v1/tax/returns", headers=e02).json()["returns"] == []


def test_a_quarter_without_verified_data_is_a_clear_refusal(taxed: TestClient) -> None:
    problem = assert_problem(
        taxed.get(f"/v1/tax/parties/E01/quarters/{QUARTER}"), 422, "tax_data_missing", "quarter"
    )
    assert "2026-04" in problem["detail"]
    assert_problem(
        taxed.get(f"/v1/tax/parties/E01/quarters/{QUARTER}", params={"source": "monitoring"}),
        422,
        "tax_data_missing",
    )


def test_an_incentive_above_its_basis_is_refused_over_http(taxed: TestClient) -> None:
    verified_quarter(taxed)
    taxed.post("/v1/tax/returns", json={"party": "E01", "quarter": QUARTER})

    body = {"id": "extra", "basis_id": "return-E01-2026Q2-r1", "amount": "0.01"}
    assert_problem(taxed.post("/v1/incentives", json=body), 422, "incentive_exceeds_basis")


def test_the_equipment_credit_and_its_clawback_over_http(taxed: TestClient) -> None:
    body = {
        "id": "DESOX-1",
        "party": "E01",
        "investment": "1000000.05",
        "acquired_on": "2024-03-01",
    }
    granted = taxed.post("/v1/equipment-credits", json=body)
    assert granted.status_code == 201, granted.text
    assert granted.json()["amount"] == "100000.00"  # 10% of 1,000,000.05, rounded down

    schedule = taxed.get(
        "/v1/parties/E01/equipment-credit-schedule",
        params=[("cit_payable", "2024:30000.00"), ("cit_payable", "2025:0")],
    )
    assert schedule.status_code == 200, schedule.text
    assert [y["left"] for y in schedule.json()] == ["70000.00", "70000.00"]

    clawed = taxed.post(
        "/v1/equipment-credits/DESOX-1/clawback", json={"transferred_on": "2026-01-01"}
    )
    assert clawed.status_code == 200, clawed.text
    assert clawed.json()[0]["reversal"]["reason"] == "clawback"
    assert REPLAYED not in clawed.headers


def test_a_retried_clawback_answers_as_the_first_time(taxed: TestClient) -> None:
    """The audit's case: the same clawback twice answered 200, then 409
    `incentive_already_reversed`, so a client whose first answer was lost could not tell."""
    credit = {"id": "DESOX-1", "party": "E01", "investment": "1000.00"}
    granted = taxed.post("/v1/equipment-credits", json=credit | {"acquired_on": "2024-03-01"})
    assert granted.status_code == 201, granted.text
    path, body = "/v1/equipment-credits/DESOX-1/clawback", {"transferred_on": "2026-01-01"}

    first = taxed.post(path, json=body)
    again = taxed.post(path, json=body)

    assert (first.status_code, again.status_code) == (200, 200), again.text
    assert again.json() == first.json() and again.headers.get(REPLAYED) == "true"
    assert_problem(
        taxed.post(path, json={"transferred_on": "2026-01-02"}),
        409,
        "incentive_already_reversed",
        "id",
    )
    e01 = taxed.get("/v1/accounts/E01:equipment_credit/balances/CNY").json()
    assert e01["balance"] == "0.00"


def test_the_tax_policy_is_readable_and_settable_by_the_regulator(taxed: TestClient) -> None:
    assert taxed.get("/v1/tax/policy").json() == {
        "scope": "taxpayer",
        "inclusive_thresholds": False,
        "air_taxed": 3,
        "water_class_1_taxed": 5,
        "water_other_taxed": 3,
    }
    changed = taxed.put("/v1/tax/policy", json={"scope": "outlet"})
    assert changed.json()["scope"] == "outlet"
    e01 = headers_for(taxed, "enterprise", party="E01")
    assert taxed.put("/v1/tax/policy", json={"scope": "taxpayer"}, headers=e01).status_code == 403


def retried(client: TestClient, path: str, body: Mapping[str, object]) -> dict[str, object]:
    """POST `body` twice: created, then the same answer replayed; the first answer's body."""
    first = client.post(path, json=body)
    assert first.status_code == 201, first.text
    assert REPLAYED not in first.headers
    again = client.post(path, json=body)
    assert (again.status_code, again.headers.get(REPLAYED)) == (201, "true"), again.text
    assert again.json() == first.json()
    answer: dict[str, object] = first.json()
    return answer


def test_every_create_of_tax_and_incentives_is_safely_retried(taxed: TestClient) -> None:
    report = verified_quarter(taxed)
    retried(taxed, "/v1/tax/returns", {"party": "E01", "quarter": QUARTER})
    credit = {"id": "DESOX-1", "party": "E01", "investment": "1000.00", "acquired_on": "2024-03-01"}
    retried(taxed, "/v1/equipment-credits", credit)
    taxed.post("/v1/equipment-credits/DESOX-1/clawback", json={"transferred_on": "2025-01-01"})
    booking = {"id": "extra", "basis_id": "equipment-DESOX-1", "amount": "50.00"}
    retried(taxed, "/v1/incentives", booking)
    entitle(taxed)
    reduction = {"id": "R1", "report_id": report, "pollutant": "SO2", "release": "tradable"}
    retried(taxed, "/v1/reductions", reduction)

    for path, body in (
        ("/v1/equipment-credits", {**credit, "investment": "2000.00"}),
        ("/v1/incentives", {**booking, "amount": "60.00"}),
        ("/v1/reductions", {**reduction, "release": "none"}),
    ):
        conflict = taxed.post(path, json=body)
        assert_problem(conflict, 409, "record_exists_with_different_definition", "id")
    incentives = taxed.get("/v1/incentives").json()["incentives"]
    assert sorted(i["id"] for i in incentives) == ["a13-E01-2026Q2-r1", "eq-DESOX-1", "extra"]


# -- verified reductions (rules §7.8) ----------------------------------------------------------


def entitle(client: TestClient) -> None:
    """E01's confirmed SO2 rights: 500 t a year from 2026."""
    body = {
        "id": "E01-SO2",
        "party": "E01",
        "pollutant": "SO2",
        "quantity_t_per_year": "500",
        "first_vintage": 2026,
    }
    assert client.post("/v1/entitlements", json=body).status_code == 201


def test_a_reduction_derives_its_baseline_and_is_reversed_with_its_report_over_http(
    taxed: TestClient,
) -> None:
    report = verified_quarter(taxed)
    entitle(taxed)
    body = {"id": "R1", "report_id": report, "pollutant": "SO2"}
    typed = {**body, "baseline_kind": "prior_entitlement", "baseline_kg": "900000"}
    assert_problem(taxed.post("/v1/reductions", json=typed), 422, "unknown_field")

    made = taxed.post("/v1/reductions", json=body)
    assert made.status_code == 201, made.text
    # 500 t a year over the quarter's 2,184 of 8,760 hours, less 3 x 17,280 kg of SO2.
    expected = 500_000 * 2_184 // 8_760 - 3 * 17_280
    assert (made.json()["baseline_kind"], made.json()["reduction_kg"]) == (
        "prior_entitlement",
        expected,
    )
    second = {**body, "id": "R2", "release": "tradable"}
    assert_problem(taxed.post("/v1/reductions", json=second), 409, "reduction_exists", "report_id")
    reserve = "/v1/accounts/HEBEI:reserve/balances/SO2-2027"
    assert taxed.get(reserve).json()["balance"] == f"{expected / 1000:.3f}"

    invalidated = taxed.post(f"/v1/reports/{report}/invalidate", json={"reason": "forged data"})
    assert invalidated.json()["reversed_reductions"] == ["R1"]

    (listed,) = taxed.get("/v1/reductions").json()["reductions"]
    assert listed["reversal"]["reason"] == "report_invalidated"
    assert listed["reversal"]["unrestored"] == "0.000"
    assert taxed.get(reserve).json()["balance"] == "0.000"
    holdings = taxed.get("/v1/accounts/E01:holdings/balances/SO2-2027").json()
    assert holdings["balance"] == "500.000"


def test_a_retrofit_month_whose_window_lacks_cems_data_is_refused_over_http(
    taxed: TestClient,
) -> None:
    report = verified_quarter(taxed)
    entitle(taxed)
    cems_year(store_of(taxed), "5000", add_outlet=False)  # 2025: 60 t, below the 500 t
    body = {"id": "R1", "report_id": report, "pollutant": "SO2"}

    # 2024-07..2025-06 has 6 months without CEMS data: refused, not the entitlement instead.
    typed = {**body, "retrofit_month": "2025-07"}
    refused = taxed.post("/v1/reductions", json=typed)
    assert_problem(refused, 422, "reduction_baseline_unknown", "retrofit_month")

    made = taxed.post("/v1/reductions", json={**body, "retrofit_month": "2026-01"})
    assert made.status_code == 201, made.text
    assert made.json()["baseline_kind"] == "cems_baseline"


# -- corrections after filing (rules §7.5) ----------------------------------------------------


def test_a_correction_after_filing_amends_the_return_over_http(taxed: TestClient) -> None:
    report = verified_quarter(taxed)
    e01 = headers_for(taxed, "enterprise", party="E01")
    quarter = {"party": "E01", "quarter": QUARTER}
    assert taxed.post("/v1/tax/returns", json=quarter, headers=e01).status_code == 201
    store = store_of(taxed)
    filer = actor(store, Role.ENTERPRISE, "E01", principal="e01-filer")
    april_exceeded = tuple(
        replace(x, method=Method.AGENCY, standard_mg=None)  # the permit states the standard
        for month in MONTHS
        for x in worked_example(month, exceedances=int(month == MONTHS[0]))
    )
    content = reports.Content(from_monitoring=False, lines=april_exceeded)
    draft = reports.correct_report(store, filer, report, content).record.report
    reports.submit_report(store, filer, draft.id)

    verifier = headers_for(taxed, "verifier", principal="verifier-2")
    verified = taxed.post(f"/v1/reports/{draft.id}/verify", json={}, headers=verifier)

    assert verified.status_code == 200, verified.text
    assert verified.json()["amended_returns"] == ["E01-2026Q2-r2"]
    amended = taxed.get("/v1/tax/returns/E01-2026Q2-r2", headers=e01).json()
    # April loses its 24,680.94 reduction: 745,985.37 + 24,680.94 due.
    assert (amended["supersedes"], amended["total_due"]) == ("E01-2026Q2-r1", "770666.31")
    owed = taxed.get("/v1/accounts/E01:env_tax_owed/balances/CNY").json()
    assert owed["balance"] == "770666.31"
    listed = taxed.get("/v1/incentives", headers=e01).json()["incentives"]
    by_id = {i["id"]: i for i in listed}
    assert by_id["a13-E01-2026Q2-r1"]["reversal"]["reason"] == "report_corrected"
    assert (by_id["a13-E01-2026Q2-r2"]["amount"], by_id["a13-E01-2026Q2-r2"]["active"]) == (
        "49361.88",
        True,
    )
    again = taxed.post("/v1/tax/returns", json=quarter, headers=e01)  # was refused before §7.5
    assert (again.headers.get(REPLAYED), again.json()["id"]) == ("true", "E01-2026Q2-r2")
    original = taxed.get("/v1/tax/returns/E01-2026Q2-r1", headers=e01).json()
    assert original["total_due"] == "745985.37"
