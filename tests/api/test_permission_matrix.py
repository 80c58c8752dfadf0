"""The permission matrix, generated from `api.permissions.PERMISSIONS`: every operation × every
role (and no token at all) is allowed or denied exactly as the table says, and every operation a
scoped role may call hides other enterprises' and other cities' records behind a 404.

A new endpoint without a line in the table stops the app from starting; a new endpoint a scoped
role may call on a record in its path needs a line in `CROSS_SCOPE` below, or this suite fails.
A write whose body names a party (`OTHER_PARTY`) is refused when the party is out of the caller's
scope or is not the party it acts as.

The matrix runs on SQLite over the demo registry: authorization happens before any storage.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import check_permission_table
from api.permissions import PERMISSIONS
from ledger.domain.access import Role
from ledger.domain.registry import PROVINCE
from ledger.entrypoints import demo
from ledger.persistence import migrate
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.settings import Settings
from tests.api.support import headers_for

# Where a scoped principal (E01's representative, Tangshan's authority) asks for a record of
# an enterprise of another city (E02, Handan): the path, and a body when the operation has one.
CROSS_SCOPE: dict[str, tuple[str, dict[str, object] | None]] = {
    "GET /v1/accounts/{code}": ("/v1/accounts/E02:holdings", None),
    "POST /v1/accounts/{code}/freeze": ("/v1/accounts/E02:holdings/freeze", None),
    "POST /v1/accounts/{code}/unfreeze": ("/v1/accounts/E02:holdings/unfreeze", None),
    "GET /v1/accounts/{code}/balances": ("/v1/accounts/E02:holdings/balances", None),
    "GET /v1/accounts/{code}/balances/{instrument}": (
        "/v1/accounts/E02:holdings/balances/SO2-2026",
        None,
    ),
    "GET /v1/accounts/{code}/statement": (
        "/v1/accounts/E02:holdings/statement?instrument=SO2-2026",
        None,
    ),
    "GET /v1/parties/{code}": ("/v1/parties/E02", None),
    "POST /v1/parties/{code}/outlets": (
        "/v1/parties/E02/outlets",
        {"outlet_code": "DA099"},
    ),
    "GET /v1/parties/{code}/penalty-events": ("/v1/parties/E02/penalty-events", None),
    "GET /v1/parties/{code}/outlets/{outlet}/permits": (
        "/v1/parties/E02/outlets/SINTER-1/permits",
        None,
    ),
    "GET /v1/parties/{code}/compliance": ("/v1/parties/E07/compliance", None),
    "GET /v1/trades/{trade_id}": ("/v1/trades/T2", None),
    "POST /v1/trades/{trade_id}/accept": ("/v1/trades/T2/accept", {}),
    "POST /v1/trades/{trade_id}/decline": ("/v1/trades/T2/decline", {}),
    "POST /v1/trades/{trade_id}/rescind": ("/v1/trades/T2/rescind", {}),
    "POST /v1/trades/{trade_id}/record": ("/v1/trades/T2/record", {}),
    "POST /v1/trades/{trade_id}/refuse": ("/v1/trades/T2/refuse", {}),
    "POST /v1/trades/{trade_id}/expire": ("/v1/trades/T2/expire", None),
    "POST /v1/obligations/{obligation_id}/surrenders": (
        "/v1/obligations/E07-2024/surrenders",
        {"id": "S-X", "quantity_tco2": "1"},
    ),
    "GET /v1/obligations/{obligation_id}/status": ("/v1/obligations/E07-2024/status", None),
    "POST /v1/obligations/{obligation_id}/penalty-payments": (
        "/v1/obligations/E07-2024/penalty-payments",
        {"id": "P-X", "amount_cny": "1.00"},
    ),
    "GET /v1/parties/{code}/equipment-credit-years": (
        "/v1/parties/E02/equipment-credit-years",
        None,
    ),
    "GET /v1/retrofit-projects/{project_id}": ("/v1/retrofit-projects/E02-RETROFIT", None),
    "GET /v1/rights-penalties/{penalty_id}": ("/v1/rights-penalties/E02-SO2", None),
    "POST /v1/rights-penalties/{penalty_id}/payments": (
        "/v1/rights-penalties/E02-SO2/payments",
        {"id": "P-X", "amount_cny": "1.00"},
    ),
    "POST /v1/pledges/{pledge_id}/release": ("/v1/pledges/E05-SO2-2025/release", None),
    "POST /v1/trading-blocks/{block_id}/lift": (
        "/v1/trading-blocks/E02-BLOCK/lift",
        {"lifted_on": "2026-01-01"},
    ),
    "GET /v1/finance/parties/{code}/statement": (
        "/v1/finance/parties/E02/statement?from=2025-01-01&to=2025-12-31",
        None,
    ),
    "GET /v1/finance/parties/{code}/holdings": ("/v1/finance/parties/E02/holdings", None),
    "GET /v1/tax/parties/{code}/quarters/{quarter}": ("/v1/tax/parties/E02/quarters/2025Q1", None),
    "GET /v1/tax/returns/{return_id}": ("/v1/tax/returns/E02-2025Q1-r1", None),
    "GET /v1/tax/parties/{code}/years/{year}": ("/v1/tax/parties/E02/years/2025", None),
    "GET /v1/tax/parties/{code}/schedule": ("/v1/tax/parties/E02/schedule?month=2025-01", None),
    "GET /v1/incentives/{incentive_id}": ("/v1/incentives/a13-E02-2025Q1-r1", None),
    "GET /v1/parties/{code}/equipment-credit-schedule": (
        "/v1/parties/E02/equipment-credit-schedule?cit_payable=2025:1.00",
        None,
    ),
    # A month of E02's outlet hour by hour: the outlet is not found (named in the query).
    "GET /v1/cems/hours": (
        "/v1/cems/hours?enterprise=E02&outlet=SINTER-1&pollutant=SO2&month=2025-01",
        None,
    ),
    # Emission reports (issue 4): E02's report, whether or not it exists, is a 404.
    "GET /v1/reports/{report_id}": ("/v1/reports/E02-2025Q1-v1", None),
    "POST /v1/reports/{report_id}/submit": ("/v1/reports/E02-2025Q1-v1/submit", None),
    "POST /v1/reports/{report_id}/corrections": ("/v1/reports/E02-2025Q1-v1/corrections", {}),
}
# Where a scoped principal names in a write's body a party out of its scope (E02, of Handan)
# or acts as another party than its own: who, the path, the body, and the refusal. A party it
# cannot see is refused as an unknown one; acting as another party is `actor_mismatch`.
OTHER_PARTY: list[tuple[Role, str, Mapping[str, object], tuple[int, str]]] = [
    (
        Role.CITY_AUTHORITY,
        "/v1/trading-blocks",
        {"id": "X-BLOCK", "party": "E02", "kind": "leasing", "effective_from": "2026-01-01"},
        (422, "unknown_party"),
    ),
    (
        Role.CITY_AUTHORITY,
        "/v1/listings",
        {
            "id": "X-LISTING",
            "seller": "HEBEI",
            "pollutant": "NOx",
            "quantity": "1",
            "mode": "fixed_price",
            "price_cny_per_t": "6000.00",
            "listing_date": "2026-03-01",
        },
        (403, "actor_mismatch"),
    ),
    (Role.ENTERPRISE, "/v1/listings/T3/accept", {"actor": "E02"}, (403, "actor_mismatch")),
    (
        Role.ENTERPRISE,
        "/v1/listings/T3/bids",
        {"actor": "E02", "price_cny_per_t": "9000.00"},
        (403, "actor_mismatch"),
    ),
    (
        Role.CITY_AUTHORITY,
        "/v1/entitlements",
        {"id": "X-ENT", "party": "E02", "pollutant": "SO2", "quantity_t_per_year": "1"}
        | {"first_vintage": 2026},
        (422, "unknown_party"),
    ),
    (
        Role.CITY_AUTHORITY,
        "/v1/pledges",
        {"id": "X-PLEDGE", "party": "E02", "pollutant": "SO2", "quantity_t_per_year": "1"}
        | {"holder": "Bank", "first_vintage": 2027, "last_vintage": 2027},
        (422, "unknown_party"),
    ),
    (
        Role.CITY_AUTHORITY,
        "/v1/reserve-operations",
        {"id": "X-OP", "action": "reclaim", "authority": "TANGSHAN", "party": "E02"}
        | {"pollutant": "SO2", "quantity_t_per_year": "1"}
        | {"first_vintage": 2027, "last_vintage": 2027},
        (422, "unknown_party"),
    ),
    (
        Role.ENTERPRISE,
        "/v1/reports",
        {"enterprise": "E02", "period": "2025-07", "from_monitoring": False, "lines": []},
        (422, "unknown_party"),
    ),
    (
        Role.ENTERPRISE,
        "/v1/tax/returns",
        {"party": "E02", "quarter": "2025Q1"},
        (422, "unknown_party"),
    ),
    (
        Role.ENTERPRISE,
        "/v1/trades",
        {
            "id": "X-TRADE",
            "seller": "E02",
            "buyer": "E01",
            "proposer": "E02",
            "family": "SO2",
            "quantity": "1",
            "price_cny_per_t": "6200.00",
            "trade_date": "2026-03-01",
        },
        (403, "actor_mismatch"),
    ),
]
SCOPED = (Role.ENTERPRISE, Role.CITY_AUTHORITY)
# Operations whose path names no record of a party (so no cross-scope case applies).
UNSCOPED_PATHS = (
    "/v1/instruments/{code}",
    "/v1/cities/{name}",  # public registry data, as instruments are
    "/v1/listings/",  # public offers; only their seller closes them, only enterprises buy
    "/v1/approvals/{request_id}",
    "/v1/tokens/{token_id}",  # a principal's own tokens (tests/api/test_access_http.py)
)


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    url = f"sqlite:///{tmp_path_factory.mktemp('matrix') / 'matrix.db'}"
    migrate.upgrade(url)
    store = Store(create_ledger_engine(url, sqlite_synchronous="NORMAL"))
    demo.load(store)
    # Every role calls every endpoint, anonymous ones too: no rate limit gets in the way.
    settings = Settings(
        database_url=url,
        four_eyes=frozenset(),
        failed_auth_limit="1000000/minute",
        request_limit="1000000/minute",
    )
    app = create_app(settings, store=store)
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="module")
def tokens(demo_app: TestClient) -> dict[Role, dict[str, str]]:
    """Headers of one principal per role; scoped ones act as E01 and Tangshan."""
    party = {Role.ENTERPRISE: "E01", Role.CITY_AUTHORITY: "TANGSHAN", Role.REGULATOR: PROVINCE}
    return {role: headers_for(demo_app, role.value, party=party.get(role)) for role in Role}


def concrete(operation: str) -> tuple[str, str]:
    method, template = operation.split(" ", 1)
    return method, re.sub(r"\{[^}]+\}", "X-1", template)


def call(client: TestClient, method: str, path: str, headers: dict[str, str], body: object) -> int:
    if method == "GET":
        return client.get(path, headers=headers).status_code
    return client.request(method, path, headers=headers, json=body).status_code


def test_an_endpoint_missing_from_the_table_stops_the_app() -> None:
    router = APIRouter(prefix="/v1")

    @router.get("/unlisted")
    def unlisted() -> None: ...

    with pytest.raises(RuntimeError, match="GET /v1/unlisted"):
        check_permission_table([router])


@pytest.mark.parametrize("role", [*Role, None], ids=lambda r: r.value if r else "anonymous")
def test_every_operation_allows_and_denies_exactly_as_the_table_says(
    demo_app: TestClient, tokens: dict[Role, dict[str, str]], role: Role | None
) -> None:
    headers = {} if role is None else tokens[role]
    wrong = []
    for operation, allowed in sorted(PERMISSIONS.items()):
        method, path = concrete(operation)
        status = call(demo_app, method, path, headers, {})
        if not allowed:
            expected_ok = True
        elif role is None:
            expected_ok = False
        else:
            expected_ok = role in allowed
        denied_as = 401 if role is None else 403
        if status >= 500 or (expected_ok and status in (401, 403)):
            wrong.append(f"{operation}: {status}, expected allowed")
        elif not expected_ok and status != denied_as:
            wrong.append(f"{operation}: {status}, expected {denied_as}")
    assert wrong == []


def test_every_scoped_operation_on_a_record_has_a_cross_scope_case() -> None:
    needing = {
        operation
        for operation, allowed in PERMISSIONS.items()
        if "{" in operation
        and allowed & set(SCOPED)
        and not operation.split(" ", 1)[1].startswith(UNSCOPED_PATHS)
    }
    assert needing - CROSS_SCOPE.keys() == set()


@pytest.mark.parametrize("role", SCOPED, ids=lambda r: r.value)
def test_records_out_of_scope_do_not_exist_for_a_scoped_role(
    demo_app: TestClient, tokens: dict[Role, dict[str, str]], role: Role
) -> None:
    wrong = []
    for operation, (path, body) in sorted(CROSS_SCOPE.items()):
        if role not in PERMISSIONS[operation]:
            continue
        method = operation.split(" ", 1)[0]
        response = demo_app.request(method, path, headers=tokens[role], json=body)
        if response.status_code != 404:
            wrong.append(f"{operation}: {response.status_code} {response.text[:120]}")
    assert wrong == []


def test_a_scoped_role_cannot_write_for_a_party_out_of_its_scope(
    demo_app: TestClient, tokens: dict[Role, dict[str, str]]
) -> None:
    wrong = []
    for role, path, body, refusal in OTHER_PARTY:
        response = demo_app.post(path, headers=tokens[role], json=body)
        answered = (response.status_code, response.json().get("code"))
        if answered != refusal:
            wrong.append(f"{role.value} {path}: {answered}, expected {refusal}")
    assert wrong == []
    # Nothing of what they asked for was made.
    regulator = tokens[Role.REGULATOR]
    assert demo_app.get("/v1/listings/X-LISTING", headers=regulator).status_code == 404
    assert demo_app.get("/v1/trading-blocks?party=E02", headers=regulator).json()["blocks"] == []


@pytest.mark.parametrize("role", SCOPED, ids=lambda r: r.value)
def test_own_records_are_visible_to_a_scoped_role(
    demo_app: TestClient, tokens: dict[Role, dict[str, str]], role: Role
) -> None:
    for path in ("/v1/parties/E01", "/v1/accounts/E01:holdings", "/v1/trades/T1"):
        response = demo_app.get(path, headers=tokens[role])
        assert response.status_code == 200, (path, response.text)


def test_listings_show_a_scoped_role_its_own_records_only(
    demo_app: TestClient, tokens: dict[Role, dict[str, str]]
) -> None:
    enterprise, city = tokens[Role.ENTERPRISE], tokens[Role.CITY_AUTHORITY]

    trades = demo_app.get("/v1/trades", headers=enterprise).json()["trades"]
    parties = demo_app.get("/v1/parties", headers=city).json()["parties"]
    other = demo_app.get("/v1/accounts", params={"party": "E02"}, headers=enterprise).json()

    assert {t["id"] for t in trades} == {"T1", "T5"}  # E01 sells in T1 and buys in T5
    assert {p["city"] for p in parties} == {"Tangshan"}
    assert other["accounts"] == []
