"""The registry over HTTP: parties with their chart, entitlements, pledges, the trade workflow,
compliance, listings with filters and cursors, and rule violations as problems with codes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledger.entrypoints import demo
from tests.api.support import REPLAYED, Clock, headers_for

Json = dict[str, Any]


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def problem(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code


def as_(client: TestClient, party: str) -> dict[str, str]:
    """Act as a party: HEBEI is the provincial regulator, every other party an enterprise."""
    if party == "HEBEI":
        return headers_for(client, "regulator", party=party)
    return headers_for(client, "enterprise", party=party)


@pytest.fixture
def registry(client: TestClient) -> TestClient:
    """HEBEI, EXCHANGE; Tangshan (may receive) with E1, E2; Xingtai (may not) with E3;
    E1 holds 100 t/a SO2 for 2026–2030; E2 and E3 have 1,000,000 CNY."""
    for body in (
        {"code": "HEBEI", "kind": "authority", "name": "Hebei"},
        {"code": "EXCHANGE", "kind": "exchange", "name": "Exchange"},
        {"code": "E1", "kind": "enterprise", "name": "E1", "city": "Tangshan", "tax_tier": 3},
        {"code": "E2", "kind": "enterprise", "name": "E2", "city": "Tangshan"},
        {"code": "E3", "kind": "enterprise", "name": "E3", "city": "Xingtai"},
    ):
        ok(client.post("/v1/parties", json=body), 201)
    for city, may in (("Tangshan", True), ("Xingtai", False)):
        ok(client.put(f"/v1/cities/{city}", json={"basin": "Hai River"}))
        for year in range(2025, 2031):
            decided = {"may_receive_air_rights": may}
            ok(client.put(f"/v1/cities/{city}/years/{year}", json=decided))
    ok(
        client.post(
            "/v1/entitlements",
            json={
                "id": "E1-SO2",
                "party": "E1",
                "pollutant": "SO2",
                "quantity_t_per_year": "100",
                "first_vintage": 2026,
                "permit": "P-E1",
            },
        ),
        201,
    )
    for party in ("E2", "E3"):
        deposit = {"id": f"{party}-cash", "party": party, "amount_cny": "1000000.00"}
        ok(client.post("/v1/deposits", json=deposit), 201)
    return client


def trade(trade_id: str, buyer: str = "E2", **changes: Any) -> Json:
    body: Json = {
        "id": trade_id,
        "seller": "E1",
        "buyer": buyer,
        "proposer": "E1",
        "family": "SO2",
        "quantity": "10",
        "price_cny_per_t": "6200.00",
        "trade_date": "2026-03-01",
    }
    body.update(changes)
    return body


def test_a_party_is_registered_with_its_chart_of_accounts(registry: TestClient) -> None:
    party = ok(registry.get("/v1/parties/E1"))

    assert party["accounts"] == [
        "E1:holdings",
        "E1:cash",
        "E1:pledged",
        "E1:surrendered",
        "E1:penalties",
    ]
    assert ok(registry.get("/v1/accounts/E1:holdings"))["normal_side"] == "credit"
    assert ok(registry.get("/v1/accounts/HEBEI:issuance"))["normal_side"] == "debit"


def test_a_trade_settles_through_propose_accept_record(registry: TestClient) -> None:
    proposed = ok(registry.post("/v1/trades", json=trade("X1"), headers=as_(registry, "E1")), 201)
    assert (proposed["state"], proposed["first_vintage"], proposed["last_vintage"]) == (
        "proposed",
        2026,
        2030,
    )

    ok(registry.post("/v1/trades/X1/accept", json={"actor": "E2"}, headers=as_(registry, "E2")))
    settled = ok(
        registry.post(
            "/v1/trades/X1/record", json={"actor": "HEBEI"}, headers=as_(registry, "HEBEI")
        )
    )

    assert settled["state"] == "settled"
    balance = ok(registry.get("/v1/accounts/E2:holdings/balances/SO2-2030"))
    assert balance["balance"] == "10.000"
    history = ok(registry.get("/v1/trades/X1"))["history"]
    assert [event["state"] for event in history] == ["proposed", "accepted", "settled"]


def test_a_proposal_retried_unchanged_answers_the_stored_trade_as_a_replay(
    registry: TestClient,
) -> None:
    # A deadline in another zone than the stored UTC: the same instant is the same proposal.
    body = trade("X1", expires_at="2026-04-01T08:00:00+08:00")
    first = registry.post("/v1/trades", json=body, headers=as_(registry, "E1"))
    ok(registry.post("/v1/trades/X1/accept", json={"actor": "E2"}, headers=as_(registry, "E2")))

    again = registry.post("/v1/trades", json=body, headers=as_(registry, "E1"))

    assert REPLAYED not in first.headers
    assert again.headers[REPLAYED] == "true"
    # The stored trade, not a new proposal.
    assert ok(again, 201) == {**ok(first, 201), "state": "accepted"}
    history = ok(registry.get("/v1/trades/X1"))["history"]
    assert [event["state"] for event in history] == ["proposed", "accepted"]


@pytest.mark.parametrize(
    "change",
    [{"quantity": "11"}, {"price_cny_per_t": "6300.00"}, {"expires_at": "2026-04-01T00:00:00Z"}],
    ids=["quantity", "price", "deadline"],
)
def test_a_proposal_retried_with_another_definition_is_record_exists(
    registry: TestClient, change: Json
) -> None:
    ok(registry.post("/v1/trades", json=trade("X1"), headers=as_(registry, "E1")), 201)

    problem(
        registry.post("/v1/trades", json=trade("X1", **change), headers=as_(registry, "E1")),
        409,
        "record_exists_with_different_definition",
    )
    assert ok(registry.get("/v1/trades/X1"))["quantity"] == "10.000"


def test_rule_violations_are_problems_with_their_own_codes(registry: TestClient) -> None:
    problem(
        registry.post(
            "/v1/trades", json=trade("X1", price_cny_per_t="4999.99"), headers=as_(registry, "E1")
        ),
        422,
        "price_below_floor",
    )
    problem(
        registry.post(
            "/v1/trades", json=trade("X1", price_cny_per_t="0"), headers=as_(registry, "E1")
        ),
        422,
        "price_zero_without_reason",
    )
    ok(registry.post("/v1/trades", json=trade("X2", buyer="E3"), headers=as_(registry, "E1")), 201)
    problem(
        registry.post("/v1/trades/X2/accept", json={"actor": "E3"}, headers=as_(registry, "E3")),
        422,
        "city_may_not_receive",
    )
    problem(
        registry.post(
            "/v1/trades/X2/record", json={"actor": "HEBEI"}, headers=as_(registry, "HEBEI")
        ),
        409,
        "trade_state_invalid",
    )
    ok(
        registry.post(
            "/v1/trades", json=trade("X3", quantity="100.001"), headers=as_(registry, "E1")
        ),
        201,
    )
    problem(
        registry.post("/v1/trades/X3/accept", json={"actor": "E2"}, headers=as_(registry, "E2")),
        422,
        "insufficient_balance",
    )
    problem(registry.get("/v1/trades/NOPE"), 404, "record_not_found")


def test_a_pledge_blocks_the_sale_until_released(registry: TestClient) -> None:
    pledge = {
        "id": "PL1",
        "party": "E1",
        "pollutant": "SO2",
        "quantity_t_per_year": "95",
        "holder": "Bank",
        "first_vintage": 2026,
        "last_vintage": 2030,
    }
    ok(registry.post("/v1/pledges", json=pledge), 201)
    ok(registry.post("/v1/trades", json=trade("X1"), headers=as_(registry, "E1")), 201)

    problem(
        registry.post("/v1/trades/X1/accept", json={"actor": "E2"}, headers=as_(registry, "E2")),
        422,
        "rights_pledged",
    )
    released = ok(registry.post("/v1/pledges/PL1/release"))
    # A client that lost the answer sends the release again: the same answer, nothing booked twice.
    assert ok(registry.post("/v1/pledges/PL1/release")) == released
    assert (
        ok(
            registry.post("/v1/trades/X1/accept", json={"actor": "E2"}, headers=as_(registry, "E2"))
        )["state"]
        == "accepted"
    )


def test_the_demo_registry_answers_filtered_and_paginated_listings(client: TestClient) -> None:
    demo.load(client.app.state.store)  # type: ignore[attr-defined]

    first = ok(client.get("/v1/parties", params={"kind": "enterprise", "limit": 5}))
    rest = ok(
        client.get("/v1/parties", params={"kind": "enterprise", "cursor": first["next_cursor"]})
    )
    settled = ok(client.get("/v1/trades", params={"state": "settled"}))
    e01 = ok(client.get("/v1/trades", params={"party": "E01"}))
    status = ok(client.get("/v1/obligations/E07-2024/status"))
    pledges = ok(client.get("/v1/pledges", params={"party": "E05"}))

    codes = [p["code"] for p in first["parties"] + rest["parties"]]
    assert codes == [f"E0{n}" for n in range(1, 9)]
    assert [t["id"] for t in settled["trades"]] == ["T1", "T2", "T3", "T6"]
    assert [t["id"] for t in e01["trades"]] == ["T1", "T5"]
    assert (status["surrendered_tco2"], status["shortfall_tco2"]) == ("3200000", "0")
    assert status["projected_shortfall_tco2"] == "0"
    assert pledges["pledges"][0]["quantity_t_per_year"] == "90.000"
    e07 = ok(client.get("/v1/parties/E07/compliance"))
    assert [(s["obligation"]["period"], s["shortfall_tco2"]) for s in e07] == [(2024, "0")]


def test_compliance_surrender_status_and_deadline_over_http(
    registry: TestClient, clock: Clock
) -> None:
    issue = {
        "id": "E1-CEA-2026",
        "party": "E1",
        "family": "CEA",
        "year": 2026,
        "quantity_tco2": "900",
    }
    ok(registry.post("/v1/carbon-issuances", json=issue), 201)
    obligation = {
        "id": "O1",
        "party": "E1",
        "period": 2026,
        "verified_emissions_tco2": "1000",
        # Well within the test tokens' 30 days (`token_for`): past them, a request passes only
        # while its token is still in the one-second cache, so a slow run answered 401.
        "deadline": (clock() + timedelta(days=10)).date().isoformat(),
    }
    ok(registry.post("/v1/obligations", json=obligation), 201)

    surrendered = ok(
        registry.post("/v1/obligations/O1/surrenders", json={"id": "S1", "quantity_tco2": "900"}),
        201,
    )
    clock.advance(timedelta(days=11))  # the day after the deadline
    closed = ok(registry.post("/v1/obligations/O1/close", json={"average_price_cny": "98.00"}))

    assert surrendered == [{"instrument": "CEA-2026", "quantity_tco2": "900"}]
    assert closed["shortfall_tco2"] == "100"
    assert closed["obligation"]["penalty_cny"] == "49000.00"  # 5 × 98 × 100
    problem(
        registry.post("/v1/obligations/O1/surrenders", json={"id": "S2", "quantity_tco2": "1"}),
        409,
        "obligation_closed",
    )


def test_the_policy_is_configurable_and_applies_to_the_next_acceptance(
    registry: TestClient,
) -> None:
    policy = ok(registry.get("/v1/policy"))
    assert policy["floor_cny_per_t"]["SO2"] == "5000.00"

    changed = ok(registry.put("/v1/policy", json={**policy, "holding_limit_t": {"SO2": "5"}}))
    ok(registry.post("/v1/trades", json=trade("X1"), headers=as_(registry, "E1")), 201)

    assert changed["holding_limit_t"] == {"SO2": "5.000"}
    problem(
        registry.post("/v1/trades/X1/accept", json={"actor": "E2"}, headers=as_(registry, "E2")),
        422,
        "holding_limit_exceeded",
    )


def test_a_reserve_operation_books_one_entry_of_its_type(registry: TestClient) -> None:
    ok(
        registry.post("/v1/parties", json={"code": "TANGSHAN", "kind": "authority", "name": "T"}),
        201,
    )
    reclaim = {
        "id": "D1",
        "action": "reclaim",
        "authority": "TANGSHAN",
        "party": "E1",
        "pollutant": "SO2",
        "quantity_t_per_year": "2.5",
        "first_vintage": 2026,
        "last_vintage": 2026,
    }

    created = ok(registry.post("/v1/reserve-operations", json=reclaim), 201)

    assert created == {"entry_ids": ["reclaim-D1"]}
    assert ok(registry.get("/v1/entries/reclaim-D1"))["entry_type"] == "reclaim"
    reserve = ok(registry.get("/v1/accounts/TANGSHAN:reserve/balances/SO2-2026"))
    assert reserve["balance"] == "2.500"


def test_a_deposit_or_issuance_retried_is_answered_once_and_another_under_its_id_is_409(
    registry: TestClient,
) -> None:
    # Their ids name their journal entries: the identical request again is a client's retry and
    # changes nothing; another request under a used id is a 409 naming the field, never a 500.
    cash = "/v1/accounts/E2:cash/balances/CNY"
    before = ok(registry.get(cash))
    deposit = {"id": "E2-cash", "party": "E2", "amount_cny": "1000000.00"}
    assert registry.post("/v1/deposits", json=deposit).headers[REPLAYED] == "true"
    other = {**deposit, "amount_cny": "5.00"}
    problem(
        registry.post("/v1/deposits", json=other), 409, "record_exists_with_different_definition"
    )
    assert ok(registry.get(cash)) == before
    issue = {"id": "E1-CEA", "party": "E1", "family": "CEA", "year": 2026, "quantity_tco2": "9"}
    first = ok(registry.post("/v1/carbon-issuances", json=issue), 201)
    assert ok(registry.post("/v1/carbon-issuances", json=issue), 201) == first
    holdings = ok(registry.get("/v1/accounts/E1:holdings/balances/CEA-2026"))
    assert holdings["balance"] == "9"
    more = {**issue, "quantity_tco2": "10"}
    problem(
        registry.post("/v1/carbon-issuances", json=more),
        409,
        "record_exists_with_different_definition",
    )


# -- authority: who acts as whom, what each sees, every create retried --------------------------


def obligation_body(obligation_id: str, party: str = "E1") -> Json:
    """An obligation of 10 tCO2 for 2026, due at the end of 2027."""
    return {
        "id": obligation_id,
        "party": party,
        "period": 2026,
        "verified_emissions_tco2": "10",
        "deadline": "2027-12-31",
    }


def reserve_of_tangshan(registry: TestClient) -> dict[str, str]:
    """Tangshan's authority with 50 t/a of SO2 (2026–2030) in its reserve; its headers."""
    city = {"code": "TANGSHAN", "kind": "authority", "name": "Tangshan", "city": "Tangshan"}
    ok(registry.post("/v1/parties", json=city), 201)
    entitlement = {
        "id": "TANGSHAN-SO2",
        "party": "TANGSHAN",
        "pollutant": "SO2",
        "quantity_t_per_year": "50",
        "first_vintage": 2026,
    }
    ok(registry.post("/v1/entitlements", json=entitlement), 201)
    return headers_for(registry, "city_authority", party="TANGSHAN")


def test_a_city_sells_its_reserve_rights_through_the_trade_workflow(registry: TestClient) -> None:
    tangshan = reserve_of_tangshan(registry)
    sale = trade("R1", seller="TANGSHAN", proposer=None, price_cny_per_t="6000.00", quantity="5")

    proposed = ok(registry.post("/v1/trades", json=sale, headers=tangshan), 201)
    ok(registry.post("/v1/trades/R1/accept", json={}, headers=as_(registry, "E2")))
    # The seller does not record its own sale: the province does.
    problem(
        registry.post("/v1/trades/R1/record", json={}, headers=tangshan), 422, "trade_party_invalid"
    )
    settled = ok(registry.post("/v1/trades/R1/record", json={}, headers=as_(registry, "HEBEI")))

    assert (proposed["proposer"], settled["state"]) == ("TANGSHAN", "settled")
    assert ok(registry.get("/v1/accounts/E2:holdings/balances/SO2-2030"))["balance"] == "5.000"
    reserve = ok(registry.get("/v1/accounts/TANGSHAN:reserve/balances/SO2-2030"))
    assert reserve["balance"] == "45.000"
    # A reserve sale pays no fee: the price is the city's revenue.
    revenue = ok(registry.get("/v1/accounts/TANGSHAN:revenue/balances/CNY"))
    assert revenue["balance"] == "30000.00"


def test_an_authority_trades_only_as_the_seller_of_its_reserve(registry: TestClient) -> None:
    tangshan = reserve_of_tangshan(registry)
    ok(registry.post("/v1/trades", json=trade("X1"), headers=as_(registry, "E1")), 201)

    # Buying: as the proposer, or by answering a proposal naming it as the buyer.
    problem(
        registry.post(
            "/v1/trades", json=trade("X2", buyer="TANGSHAN", proposer=None), headers=tangshan
        ),
        422,
        "trade_party_invalid",
    )
    problem(
        registry.post("/v1/trades/X1/accept", json={}, headers=tangshan), 422, "trade_party_invalid"
    )
    # In another party's name.
    problem(
        registry.post("/v1/trades/X1/decline", json={"actor": "E2"}, headers=tangshan),
        403,
        "actor_mismatch",
    )
    assert ok(registry.get("/v1/trades/X1"))["state"] == "proposed"


def test_a_regulator_cannot_void_or_post_a_trades_hold_outside_the_workflow(
    registry: TestClient,
) -> None:
    ok(registry.post("/v1/trades", json=trade("X1"), headers=as_(registry, "E1")), 201)
    ok(registry.post("/v1/trades/X1/accept", json={}, headers=as_(registry, "E2")))
    hebei = as_(registry, "HEBEI")

    for action in ("void", "post"):
        problem(
            registry.post(
                f"/v1/pending-entries/trade-X1-hold/{action}",
                json={"entry_id": "V1"},
                headers=hebei,
            ),
            422,
            "entry_owned_by_operation",
        )

    assert ok(registry.get("/v1/trades/X1"))["state"] == "accepted"
    settled = ok(registry.post("/v1/trades/X1/record", json={}, headers=hebei))
    assert settled["state"] == "settled"


def not_found(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Json:
    """A 404's body; a POST sends a valid body (an action's empty one, a surrender's)."""
    body = {"id": "S1", "quantity_tco2": "1"} if path.endswith("/surrenders") else {}
    response = client.request(
        method, path, headers=headers, json=body if method == "POST" else None
    )
    assert response.status_code == 404, response.text
    problem_body: Json = response.json()
    return problem_body


def test_records_out_of_scope_answer_the_very_404_of_unknown_ones(registry: TestClient) -> None:
    ok(registry.post("/v1/trades", json=trade("X1"), headers=as_(registry, "E1")), 201)
    obligation = obligation_body("O1")
    ok(registry.post("/v1/obligations", json=obligation), 201)
    e3 = as_(registry, "E3")  # E3 (Xingtai) sees none of E1's or E2's records

    for method, path, unknown in (
        ("GET", "/v1/trades/X1", "/v1/trades/X9"),
        ("POST", "/v1/trades/X1/accept", "/v1/trades/X9/accept"),
        ("POST", "/v1/trades/X1/rescind", "/v1/trades/X9/rescind"),
        ("GET", "/v1/obligations/O1/status", "/v1/obligations/O9/status"),
        ("POST", "/v1/obligations/O1/surrenders", "/v1/obligations/O9/surrenders"),
        ("GET", "/v1/parties/E1", "/v1/parties/E9"),
        ("GET", "/v1/parties/E1/compliance", "/v1/parties/E9/compliance"),
    ):
        hidden = not_found(registry, method, path, e3)
        missing = not_found(registry, method, unknown, e3)
        known_id = path.split("/")[3]
        unknown_id = unknown.split("/")[3]
        assert {k: str(v).replace(known_id, unknown_id) for k, v in hidden.items()} == {
            k: str(v) for k, v in missing.items()
        }, path
    # A city authority adding an outlet to another city's enterprise: the party's 404.
    xingtai = {"code": "XINGTAI", "kind": "authority", "name": "Xingtai", "city": "Xingtai"}
    ok(registry.post("/v1/parties", json=xingtai), 201)
    outlet = {"outlet_code": "UNIT-1"}
    problem(
        registry.post(
            "/v1/parties/E1/outlets",
            json=outlet,
            headers=headers_for(registry, "city_authority", party="XINGTAI"),
        ),
        404,
        "party_not_found",
    )


def pages(client: TestClient, path: str, key: str, headers: dict[str, str]) -> list[list[str]]:
    """Every page of a listing (one record a page), as the ids or codes of its records."""
    found, cursor = [], None
    while True:
        params = {"limit": "1", **({"cursor": cursor} if cursor else {})}
        page = ok(client.get(path, params=params, headers=headers))
        found.append([r.get("id") or r.get("code") or r["outlet_code"] for r in page[key]])
        cursor = page["next_cursor"]
        if cursor is None:
            return found


def test_scoped_listings_page_through_what_the_actor_sees_only(registry: TestClient) -> None:
    e1 = as_(registry, "E1")
    for trade_id, buyer in (("X1", "E2"), ("X2", "E3"), ("X3", "E2")):
        ok(registry.post("/v1/trades", json=trade(trade_id, buyer=buyer), headers=e1), 201)
    for party in ("E1", "E2", "E3"):
        outlet = {"outlet_code": f"{party}-1"}
        ok(registry.post(f"/v1/parties/{party}/outlets", json=outlet), 201)
        obligation = obligation_body(f"O-{party}", party)
        ok(registry.post("/v1/obligations", json=obligation), 201)
    e2 = as_(registry, "E2")
    xingtai_party = {"code": "XINGTAI", "kind": "authority", "name": "X", "city": "Xingtai"}
    ok(registry.post("/v1/parties", json=xingtai_party), 201)
    xingtai = headers_for(registry, "city_authority", party="XINGTAI")

    # Every page is full (filtered before paging) or the last, empty one.
    assert pages(registry, "/v1/trades", "trades", e2) == [["X1"], ["X3"], []]
    assert pages(registry, "/v1/trades", "trades", xingtai) == [["X2"], []]
    assert pages(registry, "/v1/parties", "parties", e2) == [["E2"], []]
    assert pages(registry, "/v1/parties", "parties", xingtai) == [["E3"], ["XINGTAI"], []]
    assert pages(registry, "/v1/outlets", "outlets", e2) == [["E2-1"], []]
    assert pages(registry, "/v1/obligations", "obligations", xingtai) == [["O-E3"], []]
    # An enterprise naming another party's records sees none of them.
    other = ok(registry.get("/v1/obligations", params={"party": "E1"}, headers=e2))
    assert other["obligations"] == []


def test_every_create_retried_is_a_replay_and_another_body_under_its_id_is_409(
    registry: TestClient,
) -> None:
    issue = {"id": "E1-CEA", "party": "E1", "family": "CEA", "year": 2026, "quantity_tco2": "9"}
    ok(registry.post("/v1/carbon-issuances", json=issue), 201)
    ok(registry.post("/v1/parties/E1/outlets", json={"outlet_code": "UNIT-1"}), 201)
    regulator = dict(registry.headers)
    obligation = obligation_body("O1")
    creates: list[tuple[str, Json, Json, dict[str, str]]] = [
        (
            "/v1/parties",
            {"code": "E9", "kind": "enterprise", "name": "E9", "city": "Tangshan"},
            {"code": "E9", "kind": "enterprise", "name": "E9 renamed", "city": "Tangshan"},
            regulator,
        ),
        (
            "/v1/parties/E1/outlets/UNIT-1/permits",
            {"effective_from": "2026-01", "cems_required": True},
            {"effective_from": "2026-01", "cems_required": True, "reference": "P-2"},
            regulator,
        ),
        ("/v1/trades", trade("X1"), trade("X1", quantity="11"), as_(registry, "E1")),
        ("/v1/obligations", obligation, {**obligation, "verified_emissions_tco2": "11"}, regulator),
        (
            "/v1/obligations/O1/surrenders",
            {"id": "S1", "quantity_tco2": "4"},
            {"id": "S1", "quantity_tco2": "5"},
            as_(registry, "E1"),
        ),
    ]
    for path, body, other, headers in creates:
        first = registry.post(path, json=body, headers=headers)
        again = registry.post(path, json=body, headers=headers)

        assert (first.status_code, again.status_code) == (201, 201), (path, again.text)
        assert REPLAYED not in first.headers
        assert again.headers[REPLAYED] == "true", path
        assert again.json() == first.json(), path
        problem(
            registry.post(path, json=other, headers=headers),
            409,
            "record_exists_with_different_definition",
        )
    holdings = ok(registry.get("/v1/accounts/E1:holdings/balances/CEA-2026"))
    assert holdings["balance"] == "5"  # surrendered once
