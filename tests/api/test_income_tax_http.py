"""Income-tax support of rules §1.4 over HTTP: a tax year of the equipment credit booked (use
and lapse), in order; a retrofit project's schedule and a year's exemption booked; an
enterprise sees its own, another's is a 404."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient

from ledger.domain.access import FOUR_EYES_DEFAULT
from ledger.persistence.store import Store
from ledger.services import incentives
from tests.api.support import REPLAYED, assert_problem, headers_for
from tests.integration.tax_support import build_tax_registry, regulator


@pytest.fixture
def credited(client: TestClient) -> TestClient:
    """E01 earned a 100,000 CNY equipment credit in 2020."""
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    build_tax_registry(store)
    investment = incentives.EquipmentInvestment(
        "EQ1", "E01", 1_000_000_00, date(2020, 3, 1), "desulphuriser 1"
    )
    incentives.grant_equipment_credit(store, regulator(store), investment)
    return client


def test_a_tax_year_of_the_equipment_credit_is_booked_in_order(credited: TestClient) -> None:
    year = {"party": "E01", "year": 2025, "cit_payable_cny": "30000.00"}
    booked = credited.post("/v1/equipment-credit-years", json=year)
    again = credited.post("/v1/equipment-credit-years", json=year)
    later = credited.post(
        "/v1/equipment-credit-years", json={**year, "year": 2026, "cit_payable_cny": "0"}
    )

    assert booked.status_code == 201, booked.text
    assert (booked.json()["used_cny"], again.headers.get(REPLAYED)) == ("30000.00", "true")
    assert later.status_code == 201, later.text
    assert (later.json()["lapsed_cny"], later.json()["moves"][0]["kind"]) == ("70000.00", "lapse")
    assert_problem(
        credited.post("/v1/equipment-credit-years", json={**year, "year": 2024}),
        409,
        "credit_year_out_of_order",
        "year",
    )
    e01 = headers_for(credited, "enterprise", party="E01")
    years = credited.get("/v1/parties/E01/equipment-credit-years", headers=e01).json()
    assert [y["year"] for y in years] == [2025, 2026]


def test_a_retrofit_projects_schedule_and_years_over_http(credited: TestClient) -> None:
    project = {"id": "RP1", "party": "E01", "first_revenue_year": 2020}
    assert credited.post("/v1/retrofit-projects", json=project).status_code == 201
    year = credited.post(
        "/v1/retrofit-projects/RP1/years", json={"year": 2024, "income_cny": "400000.00"}
    )
    assert year.status_code == 201, year.text
    assert year.json()["exempt_cny"] == "50000.00"  # 400,000 × 25% × ½
    assert_problem(
        credited.post("/v1/retrofit-projects/RP1/years", json={"year": 2026, "income_cny": "1.00"}),
        422,
        "project_year_not_exempt",
        "year",
    )

    e01 = headers_for(credited, "enterprise", party="E01")
    seen = credited.get("/v1/retrofit-projects/RP1", headers=e01).json()
    assert [s["exempt_share"] for s in seen["schedule"]] == ["1", "1", "1", "1/2", "1/2", "1/2"]
    assert [y["year"] for y in seen["years"]] == [2024]
    e02 = headers_for(credited, "enterprise", party="E02")
    assert_problem(credited.get("/v1/retrofit-projects/RP1", headers=e02), 404, "record_not_found")


def test_a_tax_year_and_a_project_year_take_effect_on_their_business_dates(
    credited: TestClient,
) -> None:
    year = {"party": "E01", "year": 2025, "cit_payable_cny": "1.00", "business_date": "2026-05-31"}
    assert credited.post("/v1/equipment-credit-years", json=year).status_code == 201
    project = {"id": "RP1", "party": "E01", "first_revenue_year": 2025}
    assert credited.post("/v1/retrofit-projects", json=project).status_code == 201
    income = {"year": 2025, "income_cny": "4.00", "business_date": "2026-05-31"}
    assert credited.post("/v1/retrofit-projects/RP1/years", json=income).status_code == 201

    for entry_id in ("equipment-credit-use-E01-2025", "retrofit-RP1-2025"):
        entry = credited.get(f"/v1/entries/{entry_id}").json()
        assert entry["effective_at"] == "2026-05-30T16:00:00Z", entry


def test_one_regulator_cannot_grant_tax_incentives_on_unchecked_figures(
    credited: TestClient,
) -> None:
    """The audit's probes, as one regulator: a credit for equipment acquired in 2099, a credit
    for HEBEI itself, a project's 2031 income exempted now, a credit year for 2100 that locked
    out 2027; each was a 201. Now they are refused, and what may be granted waits for a second
    regulator."""
    credited.app.state.store.four_eyes = FOUR_EYES_DEFAULT  # type: ignore[attr-defined]
    first = headers_for(credited, "regulator", principal="reg-a")
    second = headers_for(credited, "regulator", principal="reg-b")
    credit = {"id": "EQ-F", "party": "E01", "investment": "1000000.00"}
    credit |= {"acquired_on": "2099-06-01", "description": "SCR 1"}

    for path, body, code, field in (
        ("/v1/equipment-credits", credit, "acquired_in_future", "acquired_on"),
        (
            "/v1/equipment-credits",
            credit | {"party": "HEBEI", "acquired_on": "2024-06-01"},
            "incentive_not_for_enterprise",
            "party",
        ),
        (
            "/v1/equipment-credit-years",
            {"party": "E01", "year": 2100, "cit_payable_cny": "5.00"},
            "tax_year_in_future",
            "year",
        ),
        (
            "/v1/retrofit-projects",
            {"id": "RP-H", "party": "HEBEI", "first_revenue_year": 2024},
            "incentive_not_for_enterprise",
            "party",
        ),
    ):
        assert_problem(credited.post(path, json=body, headers=first), 422, code, field)

    asked = credited.post(
        "/v1/equipment-credits", json=credit | {"acquired_on": "2024-06-01"}, headers=first
    )
    assert asked.status_code == 202, asked.text
    request = asked.json()
    assert (request["operation"], request["state"]) == ("tax_incentive", "pending")
    assert credited.get("/v1/incentives/eq-EQ-F", headers=first).status_code == 404
    approved = credited.post(f"/v1/approvals/{request['id']}/approve", headers=second)
    assert approved.json()["state"] == "applied", approved.text
    assert credited.get("/v1/incentives/eq-EQ-F", headers=first).json()["amount"] == "100000.00"


def test_a_project_is_not_registered_twice_and_its_future_years_wait(
    credited: TestClient,
) -> None:
    """The audit's probes: RP-A re-registered as RP-B from a later first revenue year, its
    exemption restarted (2.5M CNY exempt again); RP-B's 2031 income booked now."""
    project = {"id": "RP-A", "party": "E01", "first_revenue_year": 2020}
    project |= {"description": "Kiln 3 SCR, permit PN-3"}
    assert credited.post("/v1/retrofit-projects", json=project).status_code == 201

    assert_problem(
        credited.post(
            "/v1/retrofit-projects", json=project | {"id": "RP-B", "first_revenue_year": 2026}
        ),
        409,
        "incentive_already_registered",
        "description",
    )
    assert_problem(
        credited.post("/v1/retrofit-projects/RP-A/years", json={"year": 2031, "income_cny": "1"}),
        422,
        "project_year_not_exempt",  # RP-A's exemption ended with 2025
        "year",
    )
    later = project | {"id": "RP-C", "first_revenue_year": 2026, "description": "Kiln 4 SCR"}
    assert credited.post("/v1/retrofit-projects", json=later).status_code == 201
    assert_problem(
        credited.post(
            "/v1/retrofit-projects/RP-C/years", json={"year": 2031, "income_cny": "10000000.00"}
        ),
        422,
        "tax_year_in_future",
        "year",
    )
