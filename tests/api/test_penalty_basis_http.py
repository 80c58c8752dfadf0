"""Penalty-basis events (rules.md §7.3) over HTTP: a regulator records one with its evidence,
the enterprise reads its own (another's is a 404), and the quarter's tax shows the months it
touches on the generated amount, without reduction."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ledger.domain.registry import Outlet
from ledger.persistence.store import Store
from ledger.services import parties
from tests.api.support import REPLAYED, assert_problem, headers_for
from tests.api.test_tax_http import entitle
from tests.integration.monitoring_support import set_permit
from tests.integration.tax_support import (
    build_tax_registry,
    regulator,
    verified_report,
    worked_example,
)
from tests.integration.test_penalty_basis import APRIL, JUNE, MAY

EVENTS = "/v1/parties/E01/penalty-events"
EVENT = {
    "id": "EV-1",
    "outlet": "SINTER-1",
    "reason": "cems_tampered",
    "first_month": "2026-04",
    "last_month": "2026-04",
    "evidence": "inspection report HB-2026-117",
}


@pytest.fixture
def taxed(client: TestClient) -> TestClient:
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    build_tax_registry(store)
    parties.add_outlet(store, regulator(store), Outlet("E01", "SINTER-1"))
    removal = {"SO2": "0.95", "NOx": "0.80", "PM": "0.99"}
    set_permit(store, "E01", "SINTER-1", {"SO2": "35", "NOx": "50", "PM": "10"}, removal=removal)
    verified_report(
        store, "E01", "2026Q2", [x for m in (APRIL, MAY, JUNE) for x in worked_example(m)]
    )
    return client


def test_an_event_is_recorded_seen_by_its_enterprise_and_applied_to_the_tax(
    taxed: TestClient,
) -> None:
    made = taxed.post(EVENTS, json=EVENT)
    assert made.status_code == 201, made.text
    again = taxed.post(EVENTS, json=EVENT)
    assert (again.status_code, again.headers[REPLAYED]) == (201, "true")
    other = taxed.post(EVENTS, json=EVENT | {"last_month": "2026-05"})
    assert_problem(other, 409, "record_exists_with_different_definition", "id")

    e01 = headers_for(taxed, "enterprise", party="E01")
    seen = taxed.get(EVENTS, headers=e01).json()["events"]
    assert [(e["id"], e["reason"], e["evidence"]) for e in seen] == [
        ("EV-1", "cems_tampered", "inspection report HB-2026-117")
    ]
    e02 = headers_for(taxed, "enterprise", party="E02")
    assert_problem(taxed.get(EVENTS, headers=e02), 404, "party_not_found")

    quarter = taxed.get("/v1/tax/parties/E01/quarters/2026Q2", headers=e01).json()
    april, may = quarter["months"][0], quarter["months"][1]
    so2 = next(x for x in april["lines"] if x["pollutant"] == "SO2")
    assert (so2["mass_kg"], so2["factor"]) == ("345600.000", "1.00")  # to the gram
    assert "penalty_event" in so2["disqualifications"]
    assert (april["total_reduction"], may["total_reduction"]) == ("0.00", "24680.94")


def test_an_enterprise_cannot_record_an_event_and_one_needs_evidence(taxed: TestClient) -> None:
    e01 = headers_for(taxed, "enterprise", party="E01")
    assert_problem(taxed.post(EVENTS, json=EVENT, headers=e01), 403, "forbidden")
    no_evidence = taxed.post(EVENTS, json=EVENT | {"evidence": " "})
    assert_problem(no_evidence, 422, "invalid_field", "evidence")
    unknown = taxed.post(EVENTS, json=EVENT | {"outlet": "NOPE"})
    assert_problem(unknown, 404, "record_not_found", "outlet")


def test_an_event_after_filing_leaves_the_quarter_filed_on_it(taxed: TestClient) -> None:
    e01 = headers_for(taxed, "enterprise", party="E01")
    quarter = {"party": "E01", "quarter": "2026Q2"}
    first = taxed.post("/v1/tax/returns", json=quarter, headers=e01).json()
    assert first["total_due"] == "745985.37"

    assert taxed.post(EVENTS, json=EVENT).status_code == 201

    # Filing again answers the amended return the event made, not 409 tax_return_exists.
    refiled = taxed.post("/v1/tax/returns", json=quarter, headers=e01)
    assert (refiled.status_code, refiled.headers[REPLAYED]) == (201, "true")
    amended = refiled.json()
    assert (amended["id"], amended["supersedes"]) == ("E01-2026Q2-r2", first["id"])
    assert amended["total_due"] == "4258038.98"
    old = taxed.get(f"/v1/tax/returns/{first['id']}", headers=e01).json()
    assert old["void"] is True


def test_a_reduction_on_a_report_an_event_touches_is_refused(taxed: TestClient) -> None:
    entitle(taxed)
    assert taxed.post(EVENTS, json=EVENT).status_code == 201
    report = "E01-2026Q2-v1"
    body = {"id": "R1", "report_id": report, "pollutant": "SO2"}
    assert_problem(taxed.post("/v1/reductions", json=body), 422, "reduction_not_verifiable")
