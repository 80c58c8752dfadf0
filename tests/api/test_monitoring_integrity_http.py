"""Rules §7.1–7.2 over HTTP: substituted hours and exceedances reach the monthly aggregates,
the report lines the verifier reads, and the tax factor."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient

from tests.api.support import headers_for
from tests.integration.monitoring_support import HEADER, build_outlets, full_month, line, stamp

CSV = {"content-type": "text/csv"}


@pytest.fixture
def outlets(client: TestClient) -> TestClient:
    build_outlets(client.app.state.store)  # type: ignore[attr-defined]
    return client


def upload(client: TestClient, lines: list[str]) -> httpx2.Response:
    body = (HEADER + "".join(lines)).encode()
    return client.post("/v1/cems/imports?source=march.csv", content=body, headers=CSV)


def hour_of(index: int) -> str:
    return stamp(1 + index // 24, index % 24)


def verified_lines(client: TestClient) -> list[dict[str, Any]]:
    enterprise = headers_for(client, "enterprise", party="E1")
    made = client.post(
        "/v1/reports", json={"enterprise": "E1", "period": "2025Q1"}, headers=enterprise
    )
    assert made.status_code == 201, made.text
    report_id = made.json()["id"]
    client.post(f"/v1/reports/{report_id}/submit", headers=enterprise)
    verified = client.post(
        f"/v1/reports/{report_id}/verify", json={}, headers=headers_for(client, "verifier")
    )
    assert verified.json()["status"] == "verified", verified.text
    lines: list[dict[str, Any]] = client.get(f"/v1/reports/{report_id}").json()["lines"]
    return lines


def test_fault_hours_are_substituted_and_the_line_says_so(outlets: TestClient) -> None:
    lines = full_month(c="20")
    for index in range(100, 160):
        lines[index] = line(hour_of(index), c="0", minutes="0", flag="D")
    assert upload(outlets, lines).status_code == 201
    months = outlets.get("/v1/cems/months", params={"from": "2025-03", "to": "2025-03"}).json()
    (march,) = months["months"]
    assert (march["mass_kg"], march["substituted_hours"]) == ("14880", 60)
    assert march["substitution"] == {"max_720_valid_hours": 60}
    (report_line,) = verified_lines(outlets)
    assert report_line["substituted"] is True
    assert (report_line["mass_kg"], report_line["substituted_hours"]) == ("14880", 60)
    assert report_line["substitution"] == {"max_720_valid_hours": 60}


def test_an_invalid_500_hour_and_an_over_range_hour_cost_the_reduction(
    outlets: TestClient,
) -> None:
    lines = full_month(c="20")
    lines[50] = line(hour_of(50), c="500", minutes="44")
    lines[60] = line(hour_of(60), c="1500", flag="T")
    assert upload(outlets, lines).status_code == 201
    (report_line,) = verified_lines(outlets)
    assert report_line["exceedances"] == 2
    assert report_line["exceedance_hours"] == ["2025-03-02T18:00:00Z", "2025-03-03T04:00:00Z"]
    computed = outlets.get("/v1/tax/parties/E1/quarters/2025Q1").json()
    (so2,) = computed["months"][2]["lines"]
    assert (so2["factor"], so2["disqualifications"]) == ("1.00", ["hourly_exceedance"])


def test_a_clean_month_keeps_its_reduction(outlets: TestClient) -> None:
    assert upload(outlets, full_month(c="20")).status_code == 201
    verified_lines(outlets)
    computed = outlets.get("/v1/tax/parties/E1/quarters/2025Q1").json()
    (so2,) = computed["months"][2]["lines"]
    assert (so2["factor"], so2["disqualifications"]) == ("0.75", [])
