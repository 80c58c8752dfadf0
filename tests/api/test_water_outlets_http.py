"""Water outlets over HTTP (rules §7.7, §1.1): online water records imported as JSON and CSV,
the month's days in the aggregates and report lines, top 5 class-1 + top 3 others taxed."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.support import assert_problem, headers_for
from tests.integration.monitoring_support import HEADER, build_outlets, stamp
from tests.integration.water_support import UNTAXED, WATER, add_water_outlet, water_month

CSV = {"content-type": "text/csv"}


@pytest.fixture
def water(client: TestClient) -> TestClient:
    store = client.app.state.store  # type: ignore[attr-defined]
    build_outlets(store)
    add_water_outlet(store)
    return client


def record(hour: int, **changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "enterprise": "E1",
        "outlet": "WW-1",
        "pollutant": "COD",
        "hour_start": stamp(1, hour),
        "concentration_mg_nm3": "40",
        "dry_flow_nm3_h": "100",
        "o2_percent": "0",
        "valid_minutes": 60,
        "flag": "N",
    }
    body.update(changes)
    return body


def test_online_water_records_are_imported_as_json(water: TestClient) -> None:
    refused = water.post("/v1/cems/records", json={"records": [record(0, o2_percent="4")]})
    problem = assert_problem(refused, 422, "cems_import_refused")
    assert problem["errors"][0]["code"] == "o2_not_applicable_to_water"
    made = water.post("/v1/cems/records", json={"records": [record(h) for h in range(24)]})
    assert made.status_code == 201, made.text
    months = water.get("/v1/cems/months", params={"from": "2025-03", "to": "2025-03"}).json()
    (cod,) = months["months"]
    # one day: 40 mg/L × 2,400 m³ × 1e-3 = 96 kg; a single day is not a valid month
    assert (cod["pollutant"], cod["mass_kg"], cod["valid_days"]) == ("COD", "96", 1)
    assert cod["reference_o2_percent"] is None


def test_the_water_month_is_reported_and_taxed_top_five_and_top_three(water: TestClient) -> None:
    body = (HEADER + "".join(water_month())).encode()
    uploaded = water.post("/v1/cems/imports?source=ww.csv", content=body, headers=CSV)
    assert uploaded.status_code == 201, uploaded.text
    enterprise = headers_for(water, "enterprise", party="E1")
    made = water.post(
        "/v1/reports", json={"enterprise": "E1", "period": "2025Q1"}, headers=enterprise
    ).json()
    assert {line["pollutant"] for line in made["lines"]} == set(WATER)
    water.post(f"/v1/reports/{made['id']}/submit", headers=enterprise)
    verified = water.post(
        f"/v1/reports/{made['id']}/verify", json={}, headers=headers_for(water, "verifier")
    )
    assert verified.json()["status"] == "verified", verified.text
    computed = water.get("/v1/tax/parties/E1/quarters/2025Q1").json()
    lines = computed["months"][2]["lines"]
    assert {line["pollutant"] for line in lines if not line["taxed"]} == UNTAXED
    assert sum(line["taxed"] for line in lines) == 8
