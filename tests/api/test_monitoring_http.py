"""Monitoring and emission reports over HTTP: CSV and JSON imports, aggregates, the workflow."""

from __future__ import annotations

from datetime import date

import httpx2
import pytest
from fastapi.testclient import TestClient

from tests.api.support import REPLAYED, assert_problem, headers_for
from tests.integration.monitoring_support import HEADER, build_outlets, full_month, line, stamp

CSV = {"content-type": "text/csv"}


@pytest.fixture
def outlets(client: TestClient) -> TestClient:
    build_outlets(client.app.state.store)  # type: ignore[attr-defined]
    return client


def upload(client: TestClient, lines: list[str], **headers: str) -> httpx2.Response:
    body = (HEADER + "".join(lines)).encode()
    return client.post("/v1/cems/imports?source=march.csv", content=body, headers=CSV | headers)


def record(hour: int, **changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "enterprise": "E1",
        "outlet": "SINTER-1",
        "pollutant": "SO2",
        "hour_start": stamp(1, hour),
        "concentration_mg_nm3": "20",
        "dry_flow_nm3_h": "1000000",
        "o2_percent": "16",
        "valid_minutes": 60,
        "flag": "N",
    }
    body.update(changes)
    return body


def test_a_csv_upload_is_imported_then_replayed(outlets: TestClient) -> None:
    response = upload(outlets, full_month())
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["rows"], body["inserted"], body["months_recomputed"]) == (744, 744, 1)
    assert REPLAYED not in response.headers
    again = upload(outlets, full_month())
    assert (again.status_code, again.headers[REPLAYED]) == (201, "true")
    assert again.json() == body


def test_a_csv_with_bad_rows_is_refused_with_every_location(outlets: TestClient) -> None:
    lines = [line(stamp(1, 0)), line(stamp(1, 1), o2="21.5"), line(stamp(1, 2), q="-3")]
    problem = assert_problem(upload(outlets, lines), 422, "cems_import_refused")
    assert problem["error_count"] == 2
    assert [(e["line"], e["code"]) for e in problem["errors"]] == [
        (3, "o2_at_or_above_21"),
        (4, "negative_flow"),
    ]
    months = outlets.get("/v1/cems/months", params={"from": "2025-03", "to": "2025-03"})
    assert months.json()["months"] == []


def test_json_records_are_imported_and_located_by_index(outlets: TestClient) -> None:
    bad = outlets.post("/v1/cems/records", json={"records": [record(0), record(1, flag="Z")]})
    problem = assert_problem(bad, 422, "cems_import_refused")
    assert problem["errors"][0]["field"] == "records[1].flag"
    good = outlets.post("/v1/cems/records", json={"records": [record(0), record(1)]})
    assert good.status_code == 201, good.text
    again = outlets.post("/v1/cems/records", json={"records": [record(0), record(1)]})
    assert (again.status_code, again.headers[REPLAYED], again.json()) == (201, "true", good.json())
    months = outlets.get("/v1/cems/months", params={"from": "2025-01", "to": "2025-12"})
    (march,) = months.json()["months"]
    assert (march["month"], march["mass_kg"], march["valid_hours"]) == ("2025-03", "40", 2)
    assert march["mean_on_standard_basis_mg_nm3"] == "20.000"


def test_an_enterprise_drafts_and_submits_a_report_and_a_verifier_verifies_it(
    outlets: TestClient,
) -> None:
    upload(outlets, full_month())
    enterprise = headers_for(outlets, "enterprise", party="E1")
    verifier = headers_for(outlets, "verifier")
    created = outlets.post(
        "/v1/reports", json={"enterprise": "E1", "period": "2025-03"}, headers=enterprise
    )
    assert created.status_code == 201, created.text
    report = created.json()
    assert (report["id"], report["status"]) == ("E1-2025-03-v1", "draft")
    assert report["lines"][0]["mass_kg"] == "14880"
    submitted = outlets.post(f"/v1/reports/{report['id']}/submit", headers=enterprise)
    assert submitted.json()["status"] == "submitted"
    verified = outlets.post(f"/v1/reports/{report['id']}/verify", json={}, headers=verifier)
    assert verified.json()["status"] == "verified", verified.text


def test_an_unknown_report_is_404(outlets: TestClient) -> None:
    assert_problem(outlets.get("/v1/reports/E1-2025-03-v9"), 404, "report_not_found")


def test_a_retried_draft_answers_201_with_the_draft_it_made(outlets: TestClient) -> None:
    upload(outlets, full_month())
    body = {"enterprise": "E1", "period": "2025-03"}
    first = outlets.post("/v1/reports", json=body)
    assert first.status_code == 201, first.text

    again = outlets.post("/v1/reports", json=body)
    other = outlets.post(
        "/v1/reports",
        json={
            **body,
            "lines": [
                {
                    "month": "2025-03",
                    "outlet": "SINTER-1",
                    "pollutant": "SO2",
                    "method": "estimate",
                    "mass_kg": "1",
                }
            ],
        },
    )

    assert (again.status_code, again.headers[REPLAYED], again.json()) == (201, "true", first.json())
    assert_problem(other, 409, "report_period_taken", "period")
    listed = outlets.get("/v1/reports").json()["reports"]
    assert [r["id"] for r in listed] == ["E1-2025-03-v1"]


def test_a_malformed_period_is_refused(outlets: TestClient) -> None:
    response = outlets.post("/v1/reports", json={"enterprise": "E1", "period": "2025-13"})
    assert_problem(response, 422, "invalid_field", "period")


def test_an_enterprise_cannot_see_another_enterprises_report(outlets: TestClient) -> None:
    upload(outlets, full_month())
    created = outlets.post("/v1/reports", json={"enterprise": "E1", "period": "2025-03"})
    assert created.status_code == 201, created.text
    other = headers_for(outlets, "enterprise", party="E2")
    hidden = assert_problem(
        outlets.get("/v1/reports/E1-2025-03-v1", headers=other), 404, "report_not_found"
    )
    unknown = assert_problem(
        outlets.get("/v1/reports/E1-2025-03-v2", headers=other), 404, "report_not_found"
    )
    assert hidden == {**unknown, "detail": unknown["detail"].replace("v2", "v1")}
    assert outlets.get("/v1/reports", headers=other).json()["reports"] == []
    months = {"from": "2025-03", "to": "2025-03", "enterprise": "E1"}
    assert outlets.get("/v1/cems/months", params=months, headers=other).json()["months"] == []


def test_cems_data_come_from_the_monitoring_network_never_from_the_enterprise(
    outlets: TestClient,
) -> None:
    own = [line(stamp(1, 0), outlet="E2,UNIT-1")]
    enterprise = headers_for(outlets, "enterprise", party="E2")
    assert_problem(upload(outlets, own, **enterprise), 403, "forbidden")
    record_ = record(0, enterprise="E2", outlet="UNIT-1")
    refused = outlets.post("/v1/cems/records", json={"records": [record_]}, headers=enterprise)
    assert_problem(refused, 403, "forbidden")

    network = headers_for(outlets, "cems_network")
    made = upload(outlets, own, **network)
    assert made.status_code == 201, made.text
    assert made.json()["imported_by"] == "cems-network-all"


@pytest.mark.parametrize("mass", ["1e3", "NaN", "1_000", " 1", "-1"])
def test_a_report_line_mass_must_be_a_plain_non_negative_decimal(
    outlets: TestClient, mass: str
) -> None:
    line = {"month": "2025-03", "outlet": "DA001", "pollutant": "SO2", "method": "estimate"}
    body = {"enterprise": "E1", "period": "2025-03", "from_monitoring": False}
    response = outlets.post("/v1/reports", json={**body, "lines": [{**line, "mass_kg": mass}]})
    assert_problem(response, 422, "invalid_field", "lines[0].mass_kg")


def test_a_month_is_read_hour_by_hour_in_the_readers_scope(outlets: TestClient) -> None:
    gap = line(stamp(5, 10), minutes="30")
    rows = [
        row for row in full_month("40") if not row.startswith(f"E1,SINTER-1,SO2,{stamp(5, 10)}")
    ]
    assert upload(outlets, [*rows, gap]).status_code == 201
    query = {"enterprise": "E1", "outlet": "SINTER-1", "pollutant": "SO2", "month": "2025-03"}
    own = outlets.get(
        "/v1/cems/hours", params=query, headers=headers_for(outlets, "enterprise", party="E1")
    )
    other = outlets.get(
        "/v1/cems/hours", params=query, headers=headers_for(outlets, "enterprise", party="E2")
    )
    assert own.status_code == 200, own.text
    hours = own.json()["hours"]
    assert len(hours) == 744 and own.json()["standard_mg_nm3"] == "35"
    substituted = [h for h in hours if h["substitute_mg_nm3"] is not None]
    assert len(substituted) == 1 and substituted[0]["substitution_method"]
    assert sum(h["exceeds"] for h in hours) == 743  # every reading at 40, over 35
    assert (hours[0]["reading_mg_nm3"], hours[0]["reading_exact"]) == ("40.000", "40")
    assert_problem(other, 404, "record_not_found")
    unknown = outlets.get("/v1/cems/hours", params={**query, "pollutant": "XX"})
    assert_problem(unknown, 422, "invalid_field", "pollutant")


def test_months_can_be_listed_with_an_exceedance_only(outlets: TestClient) -> None:
    february, march = full_month("20", date(2025, 2, 1)), full_month("40")  # standard: 35
    assert upload(outlets, february + march).status_code == 201
    wanted = {"from": "2025-01", "to": "2025-12"}
    every = outlets.get("/v1/cems/months", params=wanted).json()["months"]
    exceeding = outlets.get("/v1/cems/months", params={**wanted, "exceeding": "true"})
    assert [m["month"] for m in every] == ["2025-02", "2025-03"]
    assert [(m["month"], m["exceedances"]) for m in exceeding.json()["months"]] == [
        ("2025-03", 744)
    ]
