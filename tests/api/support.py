"""Helpers for the HTTP tests: seed the registry through the API, build bodies, check problems.

Everything here talks to the ledger only through HTTP, the way a client would.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
from fastapi.testclient import TestClient

from ledger.domain.access import Role
from tests.factories import actor, token_for

SO2 = "SO2-2026"
CEA = "CEA-2025"
CNY = "CNY"
PROBLEM_JSON = "application/problem+json"
REPLAYED = "Idempotent-Replayed"

Json = dict[str, Any]

INSTRUMENTS: list[Json] = [
    {
        "code": SO2,
        "name": "SO2 emission right, vintage 2026",
        "kind": "emission_right",
        "unit": "t",
        "scale": 3,
    },
    {
        "code": CEA,
        "name": "Carbon emission allowance 2025",
        "kind": "carbon_allowance",
        "unit": "tCO2",
        "scale": 0,
    },
    {"code": CNY, "name": "Chinese yuan", "kind": "cash", "unit": "CNY", "scale": 2},
]


def account_body(code: str, *, issuer: bool = False, **extra: Any) -> Json:
    """ISSUANCE-like accounts are debit-normal and may go negative; holders are neither."""
    body: Json = {
        "code": code,
        "party": "HEBEI" if issuer else code,
        "name": "Provincial issuance" if issuer else f"{code} holdings",
        "normal_side": "debit" if issuer else "credit",
        "non_negative": not issuer,
    }
    body.update(extra)
    return body


ACCOUNTS: list[Json] = [
    account_body("ISSUANCE", issuer=True),
    account_body("E01"),
    account_body("E02"),
]


class Clock:
    """Wall-clock time shifted by an offset the test controls (the store's `clock`)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> datetime:
        self.offset += delta
        return self()


def seed_registry(client: TestClient) -> None:
    """Instruments SO2-2026 (t, 3), CEA-2025 (tCO2, 0), CNY (2); ISSUANCE, E01 and E02."""
    for instrument in INSTRUMENTS:
        response = client.post("/v1/instruments", json=instrument)
        assert response.status_code == 201, response.text
    for account in ACCOUNTS:
        response = client.post("/v1/accounts", json=account)
        assert response.status_code == 201, response.text


def posting(account: str, side: str, amount: Any, instrument: str = SO2) -> Json:
    return {"account": account, "instrument": instrument, "side": side, "amount": amount}


def transfer(
    entry_id: str,
    source: str,
    destination: str,
    amount: Any,
    instrument: str = SO2,
    **extra: Any,
) -> Json:
    """An entry body moving `amount` from `source` (debited) to `destination` (credited)."""
    body: Json = {
        "entry_id": entry_id,
        "entry_type": "transfer",
        "postings": [
            posting(source, "debit", amount, instrument),
            posting(destination, "credit", amount, instrument),
        ],
    }
    body.update(extra)
    return body


def post_entry(client: TestClient, body: Json, path: str = "/v1/entries") -> Json:
    """POST an entry (or a hold, with path) that must be created; its representation."""
    response = client.post(path, json=body)
    assert response.status_code == 201, response.text
    assert REPLAYED not in response.headers
    result: Json = response.json()
    return result


def balance(client: TestClient, account: str, instrument: str = SO2, **params: str) -> Json:
    response = client.get(f"/v1/accounts/{account}/balances/{instrument}", params=params)
    assert response.status_code == 200, response.text
    result: Json = response.json()
    return result


def statement(client: TestClient, account: str, instrument: str = SO2) -> list[Json]:
    """Every line of an account's statement in one instrument (all pages)."""
    lines: list[Json] = []
    cursor: str | None = None
    while True:
        params = {"instrument": instrument, "limit": "1000"}
        if cursor is not None:
            params["cursor"] = cursor
        response = client.get(f"/v1/accounts/{account}/statement", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        lines.extend(page["lines"])
        cursor = page["next_cursor"]
        if cursor is None:
            return lines


def snapshot(client: TestClient) -> Json:
    """Every account (with its flags) and every balance (with its version), as the API shows."""
    response = client.get("/v1/accounts", params={"limit": "1000"})
    assert response.status_code == 200, response.text
    accounts = response.json()["accounts"]
    balances = {}
    for account in accounts:
        reply = client.get(f"/v1/accounts/{account['code']}/balances")
        assert reply.status_code == 200, reply.text
        balances[account["code"]] = reply.json()["balances"]
    return {"accounts": accounts, "balances": balances}


def assert_problem(
    response: httpx2.Response, status: int, code: str, field: str | None = None
) -> Json:
    """A problem+json document with the given status and code (and `field`, if named)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: Json = response.json()
    assert {"type", "title", "status", "detail", "code"} <= body.keys(), body
    assert body["status"] == status
    assert body["code"] == code, body
    assert body["type"] == f"/problems/{code}"
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    if field is not None:
        assert body.get("field") == field, body
    return body


def assert_entry_absent(client: TestClient, entry_id: str) -> None:
    assert_problem(client.get(f"/v1/entries/{entry_id}"), 404, "entry_not_found", "entry_id")


def assert_refused(  # noqa: PLR0917 - reads like the problem it expects
    client: TestClient,
    path: str,
    body: Any,
    status: int,
    code: str,
    field: str | None = None,
    *,
    absent: tuple[str, ...] | None = None,
) -> Json:
    """POST `body`; it must be refused as a problem and change nothing at all.

    `absent` names entry ids that must still be unknown afterwards (by default the body's own).
    """
    if absent is None:
        own = body.get("entry_id") if isinstance(body, dict) else None
        absent = (own,) if isinstance(own, str) else ()
    before = snapshot(client)
    problem = assert_problem(client.post(path, json=body), status, code, field)
    assert snapshot(client) == before
    for entry_id in absent:
        assert_entry_absent(client, entry_id)
    return problem


def headers_for(
    client: TestClient, role: str, *, party: str | None = None, principal: str | None = None
) -> dict[str, str]:
    """Authorization headers of a principal with `role` acting as `party` (an enterprise or
    authority code, registered beforehand), created on first use."""
    store = client.app.state.store  # type: ignore[attr-defined]
    who = actor(store, Role(role), party, principal=principal)
    return {"Authorization": f"Bearer {token_for(store, who)}"}
