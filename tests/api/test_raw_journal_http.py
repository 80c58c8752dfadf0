"""No back door through the raw journal (SQLite and PostgreSQL).

Every entry type a domain operation owns (allocation, reserve sale, trade settlement, surrender,
penalty, tax incentive, reversal, ...) is refused on every generic journal endpoint, for every
role, and the balances are unchanged afterwards; an adjustment that creates or destroys rights
or cash, or moves anything into or out of an enterprise's account, waits for a second regulator,
and the latter is refused as a trade is while a block forbids it, when asked and when approved;
no adjustment touches a pledged account; a trade's hold is posted or voided by the trade workflow
only; only adjustments are reversed through the raw journal.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ledger.domain.access import FOUR_EYES_DEFAULT
from ledger.domain.adjustments import OWNED_BY
from ledger.persistence.store import Store
from ledger.services import journal
from tests.api.support import Json, headers_for, snapshot, transfer
from tests.factories import transfer as factory_transfer

GENERIC = ("/v1/entries", "/v1/pending-entries", "/v1/batches", "/v1/bulk")
ROLES = ("regulator", "city_authority", "enterprise", "verifier", "finance", "administrator")


def _body(path: str, entry: Json) -> Json:
    return {"entries": [entry]} if path in ("/v1/batches", "/v1/bulk") else entry


def _party(client: TestClient, role: str) -> str | None:
    """The party a scoped role acts as (registered on first use)."""
    party = {
        "enterprise": {"code": "E01", "kind": "enterprise", "name": "E01", "city": "Tangshan"},
        "city_authority": {
            "code": "TANGSHAN",
            "kind": "authority",
            "name": "Tangshan",
            "city": "Tangshan",
        },
    }.get(role)
    if party is None:
        return None
    client.post("/v1/parties", json=party)
    return str(party["code"])


@pytest.mark.parametrize("path", GENERIC)
@pytest.mark.parametrize("role", ROLES)
def test_no_role_writes_an_owned_entry_type_through_the_raw_journal(
    funded: TestClient, path: str, role: str
) -> None:
    headers = headers_for(funded, role, party=_party(funded, role))
    before = snapshot(funded)
    for number, entry_type in enumerate(sorted(OWNED_BY)):
        entry = {
            **transfer(f"owned-{number}", "ISSUANCE", "E01", "50000"),
            "entry_type": entry_type,
        }

        response = funded.post(path, json=_body(path, entry), headers=headers)

        if role != "regulator":
            assert response.status_code in (401, 403), (entry_type, response.text)
        elif path == "/v1/bulk":
            (item,) = response.json()["results"]
            assert (item["outcome"], item["code"]) == ("rejected", "entry_type_not_allowed")
        else:
            assert response.status_code == 422, (entry_type, response.text)
            assert response.json()["code"] == "entry_type_not_allowed"
    assert snapshot(funded) == before


def test_a_refusal_names_the_operation_that_owns_the_type(funded: TestClient) -> None:
    entry = {**transfer("mint", "ISSUANCE", "E01", "50000"), "entry_type": "allocation"}

    response = funded.post("/v1/entries", json=entry)

    assert "POST /v1/entitlements" in response.json()["detail"]
    assert response.json()["field"] == "entry_type"


@pytest.fixture
def gated(funded: TestClient) -> TestClient:
    store: Store = funded.app.state.store  # type: ignore[attr-defined]
    store.four_eyes = FOUR_EYES_DEFAULT
    return funded


def test_an_adjustment_that_mints_rights_waits_for_a_second_regulator(gated: TestClient) -> None:
    first = headers_for(gated, "regulator", principal="reg-a")
    second = headers_for(gated, "regulator", principal="reg-b")
    before = snapshot(gated)

    mint = transfer("mint", "ISSUANCE", "E01", "50000")
    asked = gated.post("/v1/entries", json=mint, headers=first)
    untouched = snapshot(gated)
    approved = gated.post(f"/v1/approvals/{asked.json()['id']}/approve", headers=second)

    assert (asked.status_code, asked.json()["operation"]) == (202, "adjustment")
    assert untouched == before
    assert approved.json()["state"] == "applied"
    assert gated.get("/v1/accounts/E01/balances/SO2-2026").json()["balance"] == "51500.000"


def _enterprises(client: TestClient, *codes: str) -> None:
    """Register the owners of accounts `codes` as enterprises of one city (Tangshan: no city
    rule applies between them); their accounts become enterprises' accounts."""
    for code in codes:
        party = {"code": code, "kind": "enterprise", "name": code, "city": "Tangshan"}
        assert client.post("/v1/parties", json=party).status_code in (200, 201)


def test_an_adjustment_between_enterprises_waits_for_a_second_regulator(
    gated: TestClient,
) -> None:
    _enterprises(gated, "E01", "E02")
    first = headers_for(gated, "regulator", principal="reg-a")
    second = headers_for(gated, "regulator", principal="reg-b")
    before = snapshot(gated)

    asked = gated.post("/v1/entries", json=transfer("move", "E01", "E02", "1"), headers=first)
    untouched = snapshot(gated)
    approved = gated.post(f"/v1/approvals/{asked.json()['id']}/approve", headers=second)

    assert (asked.status_code, asked.json()["operation"]) == (202, "adjustment")
    assert untouched == before
    assert approved.json()["state"] == "applied"
    assert gated.get("/v1/accounts/E02/balances/SO2-2026").json()["balance"] == "1.000"


@pytest.mark.parametrize("instrument", ["CNY", "SO2-2026"])
def test_bulk_refuses_a_move_between_enterprises(gated: TestClient, instrument: str) -> None:
    _enterprises(gated, "E01", "E02")
    before = snapshot(gated)

    items = [transfer("move", "E01", "E02", "1", instrument)]
    (result,) = gated.post("/v1/bulk", json={"entries": items}).json()["results"]

    assert (result["outcome"], result["code"]) == ("rejected", "four_eyes_required")
    assert snapshot(gated) == before


def test_accounts_of_no_registered_party_still_move_in_one_step(gated: TestClient) -> None:
    """E01 and E02 are only accounts here, of owners the registry has no party for (as the
    bench's holders): a correction between them is one regulator's."""
    response = gated.post("/v1/entries", json=transfer("move", "E01", "E02", "1"))

    assert response.status_code == 201


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/entries", "postings[0].account"),
        ("/v1/pending-entries", "postings[0].account"),
        ("/v1/batches", "entries[1].postings[0].account"),
    ],
)
def test_no_adjustment_touches_a_pledged_account(funded: TestClient, path: str, field: str) -> None:
    _enterprises(funded, "E01")
    before = snapshot(funded)

    drain = transfer("drain", "E01:pledged", "E01", "1")
    body = {"entries": [transfer("fine", "E01", "E02", "1"), drain]}
    response = funded.post(path, json=body if path == "/v1/batches" else drain)

    assert (response.status_code, response.json()["code"]) == (422, "account_owned_by_record")
    assert response.json()["field"] == field
    assert snapshot(funded) == before


def test_bulk_refuses_an_item_on_a_pledged_account_by_its_posting(funded: TestClient) -> None:
    _enterprises(funded, "E01")
    items = [transfer("fill", "E01", "E01:pledged", "1")]

    (result,) = funded.post("/v1/bulk", json={"entries": items}).json()["results"]

    assert (result["outcome"], result["code"]) == ("rejected", "account_owned_by_record")
    assert result["field"] == "postings[1].account"


def _enforce(client: TestClient, party: str) -> None:
    block = {"id": f"B-{party}", "party": party, "kind": "enforcement"}
    response = client.post("/v1/trading-blocks", json={**block, "effective_from": "2026-01-01"})
    assert response.status_code == 201, response.text


def test_no_adjustment_gives_rights_to_an_enterprise_under_enforcement(funded: TestClient) -> None:
    _enterprises(funded, "E01", "E02")
    _enforce(funded, "E02")
    before = snapshot(funded)

    response = funded.post("/v1/entries", json=transfer("move", "E01", "E02", "1"))

    assert (response.status_code, response.json()["code"]) == (422, "buyer_under_enforcement")
    assert response.json()["field"] == "postings[1].account"
    assert snapshot(funded) == before


def test_a_block_set_while_an_adjustment_waits_stops_its_approval(gated: TestClient) -> None:
    _enterprises(gated, "E01", "E02")
    first = headers_for(gated, "regulator", principal="reg-a")
    second = headers_for(gated, "regulator", principal="reg-b")
    asked = gated.post("/v1/entries", json=transfer("move", "E01", "E02", "1"), headers=first)
    _enforce(gated, "E02")
    before = snapshot(gated)

    refused = gated.post(f"/v1/approvals/{asked.json()['id']}/approve", headers=second)

    assert (refused.status_code, refused.json()["code"]) == (422, "buyer_under_enforcement")
    assert snapshot(gated) == before
    request = gated.get(f"/v1/approvals/{asked.json()['id']}", headers=second).json()
    assert request["state"] == "pending"


@pytest.mark.parametrize("path", ["/v1/batches", "/v1/pending-entries"])
def test_a_batch_or_hold_that_mints_rights_waits_for_four_eyes_too(
    gated: TestClient, path: str
) -> None:
    before = snapshot(gated)

    response = gated.post(path, json=_body(path, transfer("mint", "ISSUANCE", "E01", "5")))

    assert response.status_code == 202
    assert snapshot(gated) == before


def test_bulk_refuses_an_item_that_needs_four_eyes(gated: TestClient) -> None:
    items = [transfer("move", "E01", "E02", "1"), transfer("mint", "ISSUANCE", "E01", "5")]

    results = gated.post("/v1/bulk", json={"entries": items}).json()["results"]

    assert [(r["outcome"], r["code"]) for r in results] == [
        ("created", None),
        ("rejected", "four_eyes_required"),
    ]


def _workflow_hold(client: TestClient) -> None:
    """A trade's hold, as the trade workflow writes it (through the journal's mechanics)."""
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    hold = factory_transfer(
        "trade-T9-hold", "E01", "E02", "5", pending=True, entry_type="trade_settlement"
    )
    journal.post_entry(store, hold)


@pytest.mark.parametrize("action", ["post", "void"])
def test_a_trade_s_hold_is_not_resolved_through_the_raw_journal(
    funded: TestClient, action: str
) -> None:
    _workflow_hold(funded)
    before = snapshot(funded)

    response = funded.post(
        f"/v1/pending-entries/trade-T9-hold/{action}", json={"entry_id": f"trade-T9-{action}"}
    )

    assert (response.status_code, response.json()["code"]) == (422, "entry_owned_by_operation")
    assert snapshot(funded) == before


def test_only_adjustments_are_reversed_through_the_raw_journal(funded: TestClient) -> None:
    store: Store = funded.app.state.store  # type: ignore[attr-defined]
    owned = factory_transfer("alloc-1", "ISSUANCE", "E01", "5", entry_type="allocation")
    journal.post_entry(store, owned)

    response = funded.post("/v1/entries/alloc-1/reverse", json={"entry_id": "undo-alloc-1"})

    assert (response.status_code, response.json()["code"]) == (422, "entry_owned_by_operation")


def test_amounts_in_error_details_are_in_the_instrument_s_unit(funded: TestClient) -> None:
    overdraw = funded.post("/v1/entries", json=transfer("over", "E02", "E01", "12.5"))
    cash = funded.post("/v1/entries", json=transfer("cash", "E02", "E01", "0.5", "CNY"))

    assert (
        overdraw.json()["detail"] == "account E02 would go negative (short by 12.500 t of SO2-2026)"
    )
    assert cash.json()["detail"] == "account E02 would go negative (short by 0.50 CNY)"
