"""Business dates over HTTP (rules §7.11): every business entry takes effect on its business
date (trade, allocation, deposit, pledge, reserve sale, surrender); a date in the future, before
the earliest vintage a transfer moves, or in a closed period is refused with its code, naming
the field, and nothing is stored."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledger.domain.finance import BEIJING, beijing_date
from ledger.entrypoints import demo
from tests.api.support import REPLAYED, headers_for

Json = dict[str, Any]


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def problem(response: Any, code: str, field: str) -> None:
    assert response.status_code == 422, response.text
    assert (response.json()["code"], response.json()["field"]) == (code, field)


def effective_day(client: TestClient, entry_id: str) -> tuple[date, bool]:
    """The Beijing day an entry takes effect, and whether it is that day's first instant."""
    moment = datetime.fromisoformat(ok(client.get(f"/v1/entries/{entry_id}"))["effective_at"])
    local = moment.astimezone(BEIJING)
    return local.date(), local.time() == datetime.min.time()


def tomorrow() -> str:
    return (beijing_date(datetime.now(BEIJING)) + timedelta(days=1)).isoformat()


def as_(client: TestClient, party: str) -> dict[str, str]:
    if party == "HEBEI":
        return headers_for(client, "regulator", party=party)
    return headers_for(client, "enterprise", party=party)


@pytest.fixture
def registry(client: TestClient) -> TestClient:
    """HEBEI, TANGSHAN (a reserve of 50 t/a SO2), EXCHANGE, E1 and E2 in Tangshan: E1 holds
    100 t/a SO2 for 2026–2030 and 1,000 CEA-2025, both allocated on 2026-01-05; E2 paid in
    1,000,000 CNY on 2026-01-06."""
    for body in (
        {"code": "HEBEI", "kind": "authority", "name": "Hebei"},
        {"code": "TANGSHAN", "kind": "authority", "name": "Tangshan", "city": "Tangshan"},
        {"code": "EXCHANGE", "kind": "exchange", "name": "Exchange"},
        {"code": "E1", "kind": "enterprise", "name": "E1", "city": "Tangshan"},
        {"code": "E2", "kind": "enterprise", "name": "E2", "city": "Tangshan"},
    ):
        ok(client.post("/v1/parties", json=body), 201)
    ok(client.put("/v1/cities/Tangshan", json={"basin": "Hai River"}))  # trades within it
    for party, quantity in (("E1", "100"), ("TANGSHAN", "50")):
        entitlement = {
            "id": f"{party}-SO2",
            "party": party,
            "pollutant": "SO2",
            "quantity_t_per_year": quantity,
            "first_vintage": 2026,
            "business_date": "2026-01-05",
        }
        ok(client.post("/v1/entitlements", json=entitlement), 201)
    issue = {"id": "E1-CEA", "party": "E1", "family": "CEA", "year": 2025}
    issue |= {"quantity_tco2": "1000", "business_date": "2026-01-05"}
    ok(client.post("/v1/carbon-issuances", json=issue), 201)
    deposit = {"id": "E2-cash", "party": "E2", "amount_cny": "1000000.00"}
    ok(client.post("/v1/deposits", json=deposit | {"business_date": "2026-01-06"}), 201)
    return client


def trade(trade_id: str, trade_date: str, **changes: Any) -> Json:
    return {
        "id": trade_id,
        "seller": "E1",
        "buyer": "E2",
        "family": "SO2",
        "quantity": "10",
        "price_cny_per_t": "6200.00",
        "trade_date": trade_date,
    } | changes


def settle(client: TestClient, trade_id: str) -> None:
    ok(client.post(f"/v1/trades/{trade_id}/accept", json={}, headers=as_(client, "E2")))
    ok(client.post(f"/v1/trades/{trade_id}/record", json={}, headers=as_(client, "HEBEI")))


def holdings(client: TestClient, party: str, as_of: str) -> dict[tuple[str, str], str]:
    report = ok(client.get(f"/v1/finance/parties/{party}/holdings", params={"as_of": as_of}))
    return {(row["account"], row["instrument"]): row["balance"] for row in report["rows"]}


def test_a_trade_takes_effect_on_its_trade_date(registry: TestClient) -> None:
    ok(
        registry.post("/v1/trades", json=trade("X1", "2026-03-18"), headers=as_(registry, "E1")),
        201,
    )
    settle(registry, "X1")

    assert effective_day(registry, "trade-X1-hold") == (date(2026, 3, 18), True)
    assert effective_day(registry, "trade-X1-settlement") == (date(2026, 3, 18), True)
    assert ("E2:holdings", "SO2-2026") not in holdings(registry, "E2", "2026-03-17")
    assert holdings(registry, "E2", "2026-03-18")[("E2:holdings", "SO2-2026")] == "10.000"
    assert holdings(registry, "E1", "2026-03-18")[("E1:holdings", "SO2-2026")] == "90.000"


def test_every_regulator_record_takes_effect_on_its_business_date(registry: TestClient) -> None:
    assert effective_day(registry, "entitlement-E1-SO2-2026") == (date(2026, 1, 5), True)
    assert effective_day(registry, "allocation-E1-CEA") == (date(2026, 1, 5), True)
    assert effective_day(registry, "deposit-E2-cash") == (date(2026, 1, 6), True)
    assert holdings(registry, "E1", "2026-01-04") == {}
    assert holdings(registry, "E1", "2026-01-05")[("E1:holdings", "CEA-2025")] == "1000"

    sale: Json = {"id": "S1", "action": "reserve_sale", "authority": "TANGSHAN", "party": "E2"}
    sale |= {"pollutant": "SO2", "quantity_t_per_year": "5", "first_vintage": 2026}
    sale |= {"last_vintage": 2026, "price_cny_per_t": "6000", "business_date": "2026-04-01"}
    ok(registry.post("/v1/reserve-operations", json=sale), 201)
    pledge: Json = {"id": "P1", "party": "E1", "pollutant": "SO2", "quantity_t_per_year": "20"}
    pledge |= {"holder": "Bank", "first_vintage": 2027, "last_vintage": 2027}
    ok(registry.post("/v1/pledges", json=pledge | {"business_date": "2026-02-01"}), 201)
    release = {"business_date": "2026-05-01"}
    ok(registry.post("/v1/pledges/P1/release", json=release))

    assert effective_day(registry, "reserve_sale-S1") == (date(2026, 4, 1), True)
    assert effective_day(registry, "pledge-P1") == (date(2026, 2, 1), True)
    assert effective_day(registry, "pledge-P1-release") == (date(2026, 5, 1), True)
    assert holdings(registry, "E1", "2026-02-01")[("E1:pledged", "SO2-2027")] == "20.000"
    assert holdings(registry, "E1", "2026-05-01")[("E1:pledged", "SO2-2027")] == "0.000"


def test_a_surrender_takes_effect_on_its_surrender_date(registry: TestClient) -> None:
    obligation = {"id": "E1-2025", "party": "E1", "period": 2025}
    obligation |= {"verified_emissions_tco2": "800", "deadline": "2026-12-31"}
    ok(registry.post("/v1/obligations", json=obligation), 201)
    body = {"id": "R1", "quantity_tco2": "800", "business_date": "2026-06-30"}
    ok(registry.post("/v1/obligations/E1-2025/surrenders", json=body), 201)

    assert effective_day(registry, "surrender-R1") == (date(2026, 6, 30), True)
    assert holdings(registry, "E1", "2026-06-29")[("E1:holdings", "CEA-2025")] == "1000"
    assert holdings(registry, "E1", "2026-06-30")[("E1:surrendered", "CEA-2025")] == "800"
    # The same surrender again is a replay; another date under its id is another request.
    replay = registry.post("/v1/obligations/E1-2025/surrenders", json=body)
    assert (replay.status_code, replay.headers[REPLAYED]) == (201, "true")
    again = registry.post(
        "/v1/obligations/E1-2025/surrenders", json=body | {"business_date": "2026-07-01"}
    )
    assert again.status_code == 409, again.text


def test_a_trade_date_in_the_future_is_refused(registry: TestClient) -> None:
    reply = registry.post("/v1/trades", json=trade("X2", tomorrow()), headers=as_(registry, "E1"))

    problem(reply, "business_date_in_future", "trade_date")
    assert registry.get("/v1/trades/X2").status_code == 404


def test_a_trade_date_before_the_earliest_vintage_traded_is_refused(registry: TestClient) -> None:
    rights = registry.post(
        "/v1/trades", json=trade("X3", "2019-06-01"), headers=as_(registry, "E1")
    )
    carbon = trade("X4", "2024-12-31", family="CEA", quantity="10", vintage=2025)
    cea = registry.post("/v1/trades", json=carbon, headers=as_(registry, "E1"))

    problem(rights, "business_date_before_vintage", "trade_date")
    problem(cea, "business_date_before_vintage", "trade_date")


def test_a_trade_date_in_a_closed_period_is_refused(registry: TestClient) -> None:
    ok(
        registry.post("/v1/trades", json=trade("X5", "2026-02-10"), headers=as_(registry, "E1")),
        201,
    )
    ok(registry.post("/v1/periods/2026-02/close", headers=headers_for(registry, "finance")))

    accepted = registry.post("/v1/trades/X5/accept", json={}, headers=as_(registry, "E2"))
    proposed = registry.post(
        "/v1/trades", json=trade("X6", "2026-02-11"), headers=as_(registry, "E1")
    )

    problem(accepted, "period_closed", "trade_date")
    problem(proposed, "period_closed", "trade_date")
    assert ok(registry.get("/v1/trades/X5"))["state"] == "proposed"


REGULATOR_RECORDS = [
    ("/v1/deposits", {"id": "D9", "party": "E2", "amount_cny": "1.00"}),
    ("/v1/carbon-issuances", {"id": "C9", "party": "E1", "family": "CCER", "quantity_tco2": "1"}),
    (
        "/v1/entitlements",
        {"id": "N9", "party": "E2", "pollutant": "NOx", "quantity_t_per_year": "1"}
        | {"first_vintage": 2026},
    ),
]


@pytest.mark.parametrize(("path", "body"), REGULATOR_RECORDS)
def test_a_regulator_record_dated_in_the_future_or_a_closed_period_is_refused(
    registry: TestClient, path: str, body: Json
) -> None:
    ok(registry.post("/v1/periods/2026-02/close", headers=headers_for(registry, "finance")))

    problem(
        registry.post(path, json=body | {"business_date": tomorrow()}),
        "business_date_in_future",
        "business_date",
    )
    problem(
        registry.post(path, json=body | {"business_date": "2026-02-27"}),
        "period_closed",
        "business_date",
    )
    ok(registry.post(path, json=body | {"business_date": "2026-03-01"}), 201)


def test_a_reserve_sale_dated_before_its_vintage_is_refused(registry: TestClient) -> None:
    sale: Json = {"id": "S2", "action": "reserve_sale", "authority": "TANGSHAN", "party": "E2"}
    sale |= {"pollutant": "SO2", "quantity_t_per_year": "5", "first_vintage": 2026}
    sale |= {"last_vintage": 2026, "price_cny_per_t": "6000", "business_date": "2025-12-31"}

    problem(
        registry.post("/v1/reserve-operations", json=sale),
        "business_date_before_vintage",
        "business_date",
    )


def test_a_record_sent_again_with_another_date_is_another_request(registry: TestClient) -> None:
    deposit = {"id": "E2-cash", "party": "E2", "amount_cny": "1000000.00"}
    entitlement = {
        "id": "E1-SO2",
        "party": "E1",
        "pollutant": "SO2",
        "quantity_t_per_year": "100",
        "first_vintage": 2026,
    }

    for path, body in (("/v1/deposits", deposit), ("/v1/entitlements", entitlement)):
        day = "2026-01-06" if path == "/v1/deposits" else "2026-01-05"
        assert REPLAYED in registry.post(path, json=body | {"business_date": day}).headers
    for path, body in (("/v1/deposits", deposit), ("/v1/entitlements", entitlement)):
        reply = registry.post(path, json=body | {"business_date": "2026-01-07"})
        assert reply.status_code == 409, reply.text


def test_the_demo_reports_as_of_the_2025_deadline_over_http(client: TestClient) -> None:
    demo.load(client.app.state.store)  # type: ignore[attr-defined]
    finance = headers_for(client, "finance")
    deadline = {"as_of": "2025-12-31"}

    supply = ok(client.get("/v1/finance/supply", params=deadline, headers=finance))
    trial = ok(
        client.get(
            "/v1/finance/trial-balance",
            params=deadline | {"instrument": "CEA-2024"},
            headers=finance,
        )
    )
    statement = ok(
        client.get(
            "/v1/finance/parties/E01/statement",
            params={"from": "2025-01-01", "to": "2025-12-31"},
            headers=finance,
        )
    )

    cea = next(row for row in supply["rows"] if row["instrument"] == "CEA-2024")
    assert (cea["issued"], cea["surrendered"], cea["difference"]) == ("21080000", "20990000", "0")
    lines = {row["account"]: row["credit"] for row in trial["rows"]}
    assert lines["E07:surrendered"] == "3200000"
    assert [row["entry_id"] for row in statement["rows"]] == [
        "opening balance",
        "deposit-E01-initial",
        "trade-T1-settlement",
    ]
    assert statement["rows"][-1]["balance"] == "5184605.00"
    early = ok(client.get("/v1/finance/supply", params={"as_of": "2024-12-31"}, headers=finance))
    assert early["rows"] == []
