"""Carbon compliance per rules §7.9 over HTTP: borrowing and over-surrender are problems with
their codes, a deadline closes only after it, a shortfall is deducted once from later
allocations, each deduction listed for the enterprise (and only for it), and the enterprise pays
the shortfall penalty in parts, retries answered as replays (rules §5)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledger.domain.access import FOUR_EYES_DEFAULT
from tests.api.support import REPLAYED, Clock, headers_for
from tests.api.test_emissions_registry_http import as_, ok, problem


@pytest.fixture
def registry(client: TestClient) -> TestClient:
    """HEBEI and two enterprises, E1 and E2."""
    for body in (
        {"code": "HEBEI", "kind": "authority", "name": "Hebei"},
        {"code": "E1", "kind": "enterprise", "name": "E1", "city": "Tangshan"},
        {"code": "E2", "kind": "enterprise", "name": "E2", "city": "Tangshan"},
    ):
        ok(client.post("/v1/parties", json=body), 201)
    return client


def allocate(client: TestClient, allocation: str, party: str, year: int, tco2: str) -> str:
    body = {"id": allocation, "party": party, "family": "CEA", "year": year, "quantity_tco2": tco2}
    response = client.post("/v1/carbon-issuances", json=body)
    assert response.status_code in (200, 201), response.text
    issued: str = response.json()["issued_tco2"]
    return issued


def oblige(client: TestClient, obligation: str, party: str, period: int, tco2: str) -> None:
    body = {
        "id": obligation,
        "party": party,
        "period": period,
        "verified_emissions_tco2": tco2,
        "deadline": f"{period + 1}-12-31",
    }
    ok(client.post("/v1/obligations", json=body), 201)


def surrender(client: TestClient, request: str, tco2: str, instrument: str | None = None) -> object:
    body: dict[str, object] = {"id": request, "quantity_tco2": tco2}
    if instrument is not None:
        body["instrument"] = instrument
    return client.post("/v1/obligations/O1/surrenders", json=body, headers=as_(client, "E1"))


def test_borrowing_and_over_surrender_are_refused(registry: TestClient) -> None:
    allocate(registry, "A-2024", "E1", 2024, "5000")
    allocate(registry, "A-2025", "E1", 2025, "5000")
    oblige(registry, "O1", "E1", 2024, "1500")

    problem(surrender(registry, "S1", "100", "CEA-2025"), 422, "vintage_after_compliance_year")
    problem(surrender(registry, "S2", "4500"), 422, "surrender_exceeds_obligation")
    done = ok(surrender(registry, "S3", "1500"), 201)

    assert done == [{"instrument": "CEA-2024", "quantity_tco2": "1500"}]
    status = ok(registry.get("/v1/obligations/O1/status"))
    assert (status["shortfall_tco2"], status["holdings_tco2"]) == ("0", "3500")


def test_a_deadline_closes_only_after_it_and_the_shortfall_is_deducted_once(
    registry: TestClient, clock: Clock
) -> None:
    oblige(registry, "O1", "E1", 2024, "1000")
    clock.advance(datetime(2025, 12, 31, 12, tzinfo=UTC) - clock())  # the deadline's evening
    problem(
        registry.post("/v1/obligations/O1/close", json={"average_price_cny": "98.00"}),
        409,
        "deadline_not_passed",
    )
    clock.advance(datetime(2026, 1, 1, tzinfo=UTC) - clock())  # 08:00 in Beijing, the day after
    ok(registry.post("/v1/obligations/O1/close", json={"average_price_cny": "98.00"}))

    issued = [allocate(registry, f"A{n}", "E1", 2025, "600") for n in (1, 2)]
    again = allocate(registry, "A2", "E1", 2025, "600")

    assert (issued, again) == (["0", "200"], "200")
    status = ok(registry.get("/v1/obligations/O1/status", headers=as_(registry, "E1")))
    assert (status["deducted_tco2"], status["deduction_outstanding_tco2"]) == ("1000", "0")
    own = ok(registry.get("/v1/carbon-deductions", headers=as_(registry, "E1")))
    assert [(d["allocation"], d["deducted_tco2"]) for d in own["deductions"]] == [
        ("A1", "600"),
        ("A2", "400"),
    ]
    other = ok(registry.get("/v1/carbon-deductions", headers=as_(registry, "E2")))
    assert other["deductions"] == []


def test_a_close_with_a_shortfall_answers_202_until_a_second_regulator_approves(
    registry: TestClient, clock: Clock
) -> None:
    registry.app.state.store.four_eyes = FOUR_EYES_DEFAULT  # type: ignore[attr-defined]
    first = headers_for(registry, "regulator", party="HEBEI", principal="reg-a")
    second = headers_for(registry, "regulator", party="HEBEI", principal="reg-b")
    oblige(registry, "O1", "E1", 2024, "1000")
    clock.advance(datetime(2026, 1, 1, tzinfo=UTC) - clock())
    price = {"average_price_cny": "98.00"}

    asked = registry.post("/v1/obligations/O1/close", json=price, headers=first)
    again = registry.post("/v1/obligations/O1/close", json=price, headers=first)

    assert asked.status_code == 202, asked.text
    request = asked.json()
    assert (request["operation"], request["state"], request["initiator"]) == (
        "obligation_close",
        "pending",
        "reg-a",
    )
    assert request["payload"] == {
        "obligation": "O1",
        "party_code": "E1",
        "average_price_fen": 9_800,
        "shortfall_units": 1_000,
        "penalty_fen": 49_000_000,
    }
    assert (again.status_code, again.json()) == (202, request)
    assert again.headers["Idempotent-Replayed"] == "true"
    open_ = ok(registry.get("/v1/obligations/O1/status", headers=first))["obligation"]
    assert open_["closed"] is False
    problem(
        registry.post(f"/v1/approvals/{request['id']}/approve", headers=first), 422, "self_approval"
    )

    decided = ok(registry.post(f"/v1/approvals/{request['id']}/approve", headers=second))

    assert decided["state"] == "applied"
    closed = ok(registry.get("/v1/obligations/O1/status", headers=first))["obligation"]
    assert (closed["closed"], closed["penalty_cny"]) == (True, "490000.00")


def test_a_close_without_a_shortfall_stays_immediate_under_four_eyes(
    registry: TestClient, clock: Clock
) -> None:
    registry.app.state.store.four_eyes = FOUR_EYES_DEFAULT  # type: ignore[attr-defined]
    allocate(registry, "A-2024", "E1", 2024, "1000")
    oblige(registry, "O1", "E1", 2024, "1000")
    ok(surrender(registry, "S1", "1000"), 201)
    clock.advance(datetime(2026, 1, 1, tzinfo=UTC) - clock())

    closed = ok(registry.post("/v1/obligations/O1/close", json={"average_price_cny": "98.00"}))

    assert (closed["obligation"]["closed"], closed["shortfall_tco2"]) == (True, "0")


def pay(client: TestClient, obligation: str, payment: str, cny: str, party: str = "E1") -> Any:
    body = {"id": payment, "amount_cny": cny}
    path = f"/v1/obligations/{obligation}/penalty-payments"
    return client.post(path, json=body, headers=as_(client, party))


def test_the_enterprise_pays_its_shortfall_penalty_in_parts_and_a_retry_is_a_replay(
    registry: TestClient, clock: Clock
) -> None:
    exchange = {"code": "EXCHANGE", "kind": "exchange", "name": "Exchange"}  # deposits need it
    ok(registry.post("/v1/parties", json=exchange), 201)
    ok(registry.post("/v1/deposits", json={"id": "D1", "party": "E1", "amount_cny": "500000"}), 201)
    oblige(registry, "O1", "E1", 2024, "1000")
    oblige(registry, "O2", "E1", 2025, "1000")  # not closed: no penalty yet
    clock.advance(datetime(2026, 1, 1, tzinfo=UTC) - clock())
    ok(registry.post("/v1/obligations/O1/close", json={"average_price_cny": "98.00"}))

    part = pay(registry, "O1", "P1", "90000.00")
    retried = pay(registry, "O1", "P1", "90000.00")
    problem(pay(registry, "O1", "P1", "1.00"), 409, "record_exists_with_different_definition")
    over = pay(registry, "O1", "P2", "400000.01")
    problem(over, 422, "payment_exceeds_owed")
    problem(pay(registry, "O2", "P3", "1.00"), 409, "no_penalty_owed")
    problem(pay(registry, "O1", "P4", "1.00", party="E2"), 404, "record_not_found")
    rest = ok(pay(registry, "O1", "P2", "400000.00"), 201)

    assert (part.status_code, retried.status_code) == (201, 201)
    assert REPLAYED not in part.headers
    assert retried.headers[REPLAYED] == "true"
    assert retried.json() == part.json()
    assert over.json()["field"] == "amount_cny"
    assert (part.json()["penalty_paid_cny"], part.json()["penalty_outstanding_cny"]) == (
        "90000.00",
        "400000.00",
    )
    status = ok(registry.get("/v1/obligations/O1/status", headers=as_(registry, "E1")))
    assert (status["penalty_paid_cny"], status["penalty_outstanding_cny"]) == ("490000.00", "0.00")
    assert rest == status
    balances = {
        account: ok(registry.get(f"/v1/accounts/{account}/balances/CNY"))["balance"]
        for account in ("E1:penalties", "E1:cash")
    }
    assert balances == {"E1:penalties": "0.00", "E1:cash": "10000.00"}
