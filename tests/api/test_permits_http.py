"""Permits and who states what (rules.md §7.4) over HTTP: a regulator sets an outlet's permit
(202 for a second regulator when it lowers tax), everyone with a stake reads it within scope,
a report line's standard is the permit's, and the enterprise neither states a standard, nor
imports CEMS data, nor replaces CEMS lines with its own."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient

from ledger.domain.access import FOUR_EYES_DEFAULT
from tests.api.support import REPLAYED, assert_problem, headers_for
from tests.integration.monitoring_support import HEADER, build_outlets, full_month

PERMITS = "/v1/parties/E1/outlets/SINTER-1/permits"
CSV = {"content-type": "text/csv"}


@pytest.fixture
def outlets(client: TestClient) -> TestClient:
    build_outlets(client.app.state.store)  # type: ignore[attr-defined]  # E1 SO2 35 from 2024-01
    return client


def permit(month: str = "2025-03", **changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "effective_from": month,
        "standards": {"SO2": "30", "NOx": "50", "PM": "10"},
        "reference_o2": "16",
        "removal_efficiencies": {"SO2": "0.95"},
        "cems_required": True,
        "reference": "HB-PERMIT-0001",
    }
    return body | changes


def enterprise(client: TestClient, party: str = "E1") -> dict[str, str]:
    return headers_for(client, "enterprise", party=party)


def agency_line(**more: object) -> dict[str, object]:
    line = {"month": "2025-03", "outlet": "SINTER-1", "pollutant": "SO2", "method": "agency"}
    return line | {"mass_kg": "1000", "mean_concentration": "20"} | more


def test_a_regulator_sets_a_permit_and_the_enterprise_reads_its_own(outlets: TestClient) -> None:
    made = outlets.post(PERMITS, json=permit())
    assert made.status_code == 201, made.text
    assert made.json()["standards"] == {"NOx": "50", "PM": "10", "SO2": "30"}
    again = outlets.post(PERMITS, json=permit())
    assert (again.status_code, again.headers[REPLAYED]) == (201, "true")
    other = outlets.post(PERMITS, json=permit(reference="HB-PERMIT-0002"))
    assert_problem(other, 409, "record_exists_with_different_definition", "effective_from")

    listed = outlets.get(PERMITS, headers=enterprise(outlets))
    assert [p["effective_from"] for p in listed.json()["permits"]] == ["2024-01", "2025-03"]
    assert_problem(
        outlets.get("/v1/parties/E2/outlets/UNIT-1/permits", headers=enterprise(outlets)),
        404,
        "party_not_found",
    )


def test_a_standard_no_stack_could_have_is_refused(outlets: TestClient) -> None:
    # Stored, it would not fit the standard's column of the monthly aggregates it recomputes
    # and of every report line drafted under it: on PostgreSQL a 500, now and at each draft.
    data = (HEADER + "".join(full_month("20"))).encode()
    network = headers_for(outlets, "cems_network")
    assert outlets.post("/v1/cems/imports", content=data, headers=CSV | network).status_code == 201
    huge = permit(standards={"SO2": "1" + "0" * 20})

    assert_problem(outlets.post(PERMITS, json=huge), 422, "invalid_field", "standards.SO2")
    largest = permit(standards={"SO2": "999999.999999"})
    assert outlets.post(PERMITS, json=largest).status_code == 201


def test_an_enterprise_or_a_city_cannot_set_a_permit(outlets: TestClient) -> None:
    loose = permit(standards={"SO2": "1000"})
    assert_problem(outlets.post(PERMITS, json=loose, headers=enterprise(outlets)), 403, "forbidden")
    tangshan = {"code": "TANGSHAN", "kind": "authority", "name": "T", "city": "Tangshan"}
    assert outlets.post("/v1/parties", json=tangshan).status_code == 201
    city = headers_for(outlets, "city_authority", party="TANGSHAN")
    assert_problem(outlets.post(PERMITS, json=loose, headers=city), 403, "forbidden")


def test_a_permit_that_lowers_tax_waits_for_a_second_regulator(outlets: TestClient) -> None:
    outlets.app.state.store.four_eyes = FOUR_EYES_DEFAULT  # type: ignore[attr-defined]
    first = headers_for(outlets, "regulator", principal="reg-a")
    second = headers_for(outlets, "regulator", principal="reg-b")
    raised = permit(standards={"SO2": "50"}, cems_required=False)

    asked = outlets.post(PERMITS, json=raised, headers=first)

    assert asked.status_code == 202, asked.text
    assert [p["effective_from"] for p in outlets.get(PERMITS).json()["permits"]] == ["2024-01"]
    decided = outlets.post(f"/v1/approvals/{asked.json()['id']}/approve", headers=second)
    assert decided.status_code == 200, decided.text
    assert outlets.get(PERMITS).json()["permits"][-1]["standards"] == {"SO2": "50"}
    tighter = permit("2025-04", standards={"SO2": "30"})
    tighter_made = outlets.post(PERMITS, json=tighter, headers=first)
    assert tighter_made.status_code == 201, tighter_made.text  # raises tax: no second person


def test_a_line_never_states_its_standard_it_is_the_permits(outlets: TestClient) -> None:
    body = {"enterprise": "E1", "period": "2025-03", "from_monitoring": False}
    cheat = outlets.post(
        "/v1/reports",
        json=body | {"lines": [agency_line(standard_mg="1000")]},
        headers=enterprise(outlets),
    )
    assert_problem(cheat, 422, "unknown_field", "lines[0].standard_mg")

    drafted = outlets.post(
        "/v1/reports", json=body | {"lines": [agency_line()]}, headers=enterprise(outlets)
    )
    assert drafted.status_code == 201, drafted.text
    (line,) = drafted.json()["lines"]
    assert (line["standard_mg"], line["reference_o2"]) == ("35", "16")


def test_cems_data_come_from_the_network_and_govern_the_enterprises_lines(
    outlets: TestClient,
) -> None:
    data = (HEADER + "".join(full_month("20"))).encode()
    mine = outlets.post("/v1/cems/imports", content=data, headers=CSV | enterprise(outlets))
    assert_problem(mine, 403, "forbidden")
    network = headers_for(outlets, "cems_network")
    assert outlets.post("/v1/cems/imports", content=data, headers=CSV | network).status_code == 201

    one_kg = agency_line(method="coefficient", mass_kg="1")
    body = {"enterprise": "E1", "period": "2025-03", "from_monitoring": False, "lines": [one_kg]}
    refused = outlets.post("/v1/reports", json=body, headers=enterprise(outlets))
    assert_problem(refused, 422, "cems_lines_required", "lines[0].method")

    # The regulator's own measurement replaces the CEMS line of its month (rules §7.4).
    measured = {"from_monitoring": True, "lines": [agency_line(mass_kg="5000")]}
    by_regulator = outlets.post("/v1/reports", json=body | measured)
    assert by_regulator.status_code == 201, by_regulator.text
    so2 = [x for x in by_regulator.json()["lines"] if x["pollutant"] == "SO2"]
    assert [(x["method"], x["mass_kg"]) for x in so2] == [("agency", "5000")]


def test_stored_cems_data_are_never_left_out_of_a_report(outlets: TestClient) -> None:
    # The audit's attempt: 14,880 kg SO2 stored, drafted with from_monitoring false and a 1 kg
    # CO estimate; then the same data arriving after a draft, at verification.
    co = {"month": "2025-03", "outlet": "SINTER-1", "pollutant": "CO", "method": "estimate"}
    body = {"enterprise": "E1", "period": "2025-03", "lines": [co | {"mass_kg": "1"}]}
    drafted = outlets.post("/v1/reports", json=body, headers=enterprise(outlets))
    assert drafted.status_code == 201, drafted.text  # no CEMS data stored yet
    report_id = drafted.json()["id"]
    submitted = outlets.post(f"/v1/reports/{report_id}/submit", headers=enterprise(outlets))
    assert submitted.status_code == 200, submitted.text
    data = (HEADER + "".join(full_month("20"))).encode()
    network = headers_for(outlets, "cems_network")
    assert outlets.post("/v1/cems/imports", content=data, headers=CSV | network).status_code == 201

    verifier = headers_for(outlets, "verifier")
    refused = outlets.post(f"/v1/reports/{report_id}/verify", json={}, headers=verifier)
    assert_problem(refused, 422, "cems_data_not_reported", "lines")

    april_co = co | {"month": "2025-04", "mass_kg": "1"}
    again = body | {"period": "2025-04", "lines": [april_co]}
    april = (HEADER + "".join(full_month("20", month=date(2025, 4, 1)))).encode()
    assert outlets.post("/v1/cems/imports", content=april, headers=CSV | network).status_code == 201
    omitted = outlets.post(
        "/v1/reports", json=again | {"from_monitoring": False}, headers=enterprise(outlets)
    )
    assert_problem(omitted, 422, "cems_lines_required", "from_monitoring")
    carried = outlets.post("/v1/reports", json=again, headers=enterprise(outlets))
    assert carried.status_code == 201, carried.text
    so2 = [x for x in carried.json()["lines"] if x["pollutant"] == "SO2"]
    assert [(x["method"], x["mass_kg"]) for x in so2] == [("cems", "14400")]


def test_an_estimate_states_no_concentration_and_is_no_valid_month(outlets: TestClient) -> None:
    # The audit's attempt: the worked example's SO2 typed as an estimate with its 20 mg/Nm³
    # mean earned the Article 13 reduction (rules §1.3: only measured means count).
    body = {"enterprise": "E1", "period": "2025-03"}
    typed = agency_line(method="estimate", mass_kg="17280")
    refused = outlets.post(
        "/v1/reports", json=body | {"lines": [typed]}, headers=enterprise(outlets)
    )
    assert_problem(refused, 422, "line_not_measured", "lines[0].mean_concentration")

    plain = {k: v for k, v in typed.items() if k != "mean_concentration"}
    drafted = outlets.post(
        "/v1/reports", json=body | {"lines": [plain]}, headers=enterprise(outlets)
    )
    assert drafted.status_code == 201, drafted.text
    (line,) = drafted.json()["lines"]
    assert (line["method"], line["mean_concentration"], line["month_valid"]) == (
        "estimate",
        None,
        False,
    )


def test_the_permit_not_the_draft_says_what_pm_is_taxed_as(outlets: TestClient) -> None:
    # The audit's attempt: the draft named the outlet in particulate_as, and its measured PM
    # was taxed as general dust (4 kg per equivalent against soot's 2.18).
    pm = (HEADER + "".join(full_month("6", pollutant="PM"))).encode()
    network = headers_for(outlets, "cems_network")
    assert outlets.post("/v1/cems/imports", content=pm, headers=CSV | network).status_code == 201
    body = {"enterprise": "E1", "period": "2025-03"}
    dust = {"particulate_as": {"SINTER-1": "general_dust"}}
    refused = outlets.post("/v1/reports", json=body | dust, headers=enterprise(outlets))
    assert_problem(refused, 422, "unknown_field", "particulate_as")

    made = outlets.post(PERMITS, json=permit(particulate_as="general_dust"))
    assert made.status_code == 201, made.text
    assert made.json()["particulate_as"] == "general_dust"
    drafted = outlets.post("/v1/reports", json=body, headers=enterprise(outlets))
    assert drafted.status_code == 201, drafted.text
    assert [x["pollutant"] for x in drafted.json()["lines"] if x["measured_as"] == "PM"] == [
        "general_dust"
    ]
