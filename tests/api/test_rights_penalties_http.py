"""Emission-rights compliance per rules §7.10 over HTTP: the obligations of a verified report
count pledged rights as held and exceedances as non-compliance; a regulator books a penalty for
a finding, the enterprise sees and pays it through the ledger, another enterprise sees nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from ledger.domain.registry import Entitlement, Pledge
from ledger.domain.tax_tables import Pollutant
from ledger.persistence.store import Store
from ledger.services import rights
from tests.api.support import REPLAYED, assert_problem, headers_for
from tests.integration.tax_support import build_tax_registry, line, regulator, verified_report


def store_of(client: TestClient) -> Store:
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    return store


@pytest.fixture
def reported(client: TestClient) -> tuple[TestClient, str]:
    """E01 holds 100 t/a of SO2 (2026-2030), all pledged; its verified January 2026 report shows
    40 t of SO2 and two hourly exceedances."""
    store = store_of(client)
    build_tax_registry(store)
    rights.confirm_entitlement(
        store, regulator(store), Entitlement("E01-SO2", "E01", "SO2", 100_000, 2026, 2030)
    )
    rights.pledge(store, regulator(store), Pledge("PL1", "E01", "SO2", 100_000, "Bank", 2026, 2030))
    month = date(2026, 1, 1)
    lines = [line(month, Pollutant.SO2, "20", "35", mass=Decimal(40_000), exceedances=2)]
    return client, verified_report(store, "E01", "2026-01", lines)


def test_a_finding_is_penalised_and_paid_through_the_ledger(
    reported: tuple[TestClient, str],
) -> None:
    client, report = reported
    e01 = headers_for(client, "enterprise", party="E01")

    seen = client.get("/v1/rights-obligations", params={"report_id": report}, headers=e01)
    assert seen.status_code == 200, seen.text
    (so2,) = seen.json()
    assert (so2["held"], so2["pledged"], so2["shortfall"]) == ("100.000", "100.000", "0.000")
    assert (so2["compliant"], so2["findings"]) == (False, ["exceedances"])

    penalty = {"id": "F1", "report": report, "pollutant": "SO2", "amount_cny": "200000.00"}
    booked = client.post("/v1/rights-penalties", json=penalty)
    again = client.post("/v1/rights-penalties", json=penalty)
    assert booked.status_code == 201, booked.text
    assert (again.status_code, again.headers.get(REPLAYED)) == (201, "true")
    assert (booked.json()["party"], booked.json()["outstanding_cny"]) == ("E01", "200000.00")
    assert_problem(
        client.post("/v1/rights-penalties", json={**penalty, "id": "F2", "amount_cny": "99.00"}),
        422,
        "invalid_field",
        "amount_cny",
    )

    pay = {"id": "PAY1", "amount_cny": "200000.01"}
    assert_problem(
        client.post("/v1/rights-penalties/F1/payments", json=pay, headers=e01),
        422,
        "payment_exceeds_owed",
        "amount_cny",
    )
    paid = client.post(
        "/v1/rights-penalties/F1/payments", json={**pay, "amount_cny": "200000.00"}, headers=e01
    )
    assert paid.status_code == 201, paid.text
    assert (paid.json()["paid_cny"], paid.json()["outstanding_cny"]) == ("200000.00", "0.00")
    listed = client.get("/v1/rights-penalties", headers=e01).json()["penalties"]
    assert [p["id"] for p in listed] == ["F1"]


def test_another_enterprise_neither_sees_nor_pays_a_penalty(
    reported: tuple[TestClient, str],
) -> None:
    client, report = reported
    penalty = {"id": "F1", "report": report, "pollutant": "SO2", "amount_cny": "100000.00"}
    assert client.post("/v1/rights-penalties", json=penalty).status_code == 201
    e02 = headers_for(client, "enterprise", party="E02")

    assert_problem(client.get("/v1/rights-penalties/F1", headers=e02), 404, "record_not_found")
    payment = {"id": "PAY1", "amount_cny": "1.00"}
    assert_problem(
        client.post("/v1/rights-penalties/F1/payments", json=payment, headers=e02),
        404,
        "record_not_found",
    )
    assert client.get("/v1/rights-penalties", headers=e02).json()["penalties"] == []
    forbidden = client.post("/v1/rights-penalties", json={**penalty, "id": "F2"}, headers=e02)
    assert forbidden.status_code == 403, forbidden.text


def test_a_penalty_and_its_payment_take_effect_on_their_business_dates(
    reported: tuple[TestClient, str],
) -> None:
    client, report = reported
    penalty = {"id": "F1", "report": report, "pollutant": "SO2", "amount_cny": "100000.00"}
    assert_problem(
        client.post("/v1/rights-penalties", json={**penalty, "business_date": "2099-01-01"}),
        422,
        "business_date_in_future",
        "business_date",
    )
    booked = client.post("/v1/rights-penalties", json={**penalty, "business_date": "2026-03-02"})
    assert booked.status_code == 201, booked.text
    retried = client.post("/v1/rights-penalties", json={**penalty, "business_date": "2026-03-03"})
    assert retried.status_code == 409, retried.text  # the same id on another day: not a retry
    payment = {"id": "PAY1", "amount_cny": "100000.00", "business_date": "2026-04-01"}
    paid = client.post("/v1/rights-penalties/F1/payments", json=payment)
    assert paid.status_code == 201, paid.text

    for entry_id, instant in (
        ("rights-penalty-F1", "2026-03-01T16:00:00Z"),  # 00:00 in Beijing
        ("penalty-payment-PAY1", "2026-03-31T16:00:00Z"),
    ):
        entry = client.get(f"/v1/entries/{entry_id}").json()
        assert entry["effective_at"] == instant, entry
