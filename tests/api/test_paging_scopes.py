"""Every listing pages inside its caller's scope: the pages, joined, are exactly the filtered
whole (a property test over page sizes, for every listing and every kind of scope).

The filtered whole is computed here, independently of the services: the regulator's complete
listing, kept where a record's party (any of them: a trade's seller or buyer) is the caller's
own or lies in the caller's city. Every page but the last is full, so a short page never tells
a scoped caller that records it cannot see exist.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import create_app
from ledger.domain.access import Role
from ledger.domain.registry import PROVINCE
from ledger.entrypoints import demo
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.settings import Settings
from tests.api.support import headers_for

Json = dict[str, Any]

# path, query, the key of its items, the fields naming a record's parties
LISTINGS: list[tuple[str, dict[str, str], str, tuple[str, ...]]] = [
    ("/v1/accounts", {}, "accounts", ("party",)),
    ("/v1/parties", {}, "parties", ("code",)),
    ("/v1/outlets", {}, "outlets", ("party",)),
    ("/v1/entitlements", {}, "entitlements", ("party",)),
    ("/v1/pledges", {}, "pledges", ("party",)),
    ("/v1/trades", {}, "trades", ("seller", "buyer")),
    ("/v1/obligations", {}, "obligations", ("party",)),
    ("/v1/reports", {}, "reports", ("enterprise",)),
    ("/v1/tax/returns", {}, "returns", ("party",)),
    ("/v1/incentives", {}, "incentives", ("party",)),
    ("/v1/reductions", {}, "reductions", ("party",)),
    ("/v1/cems/months", {"from": "2025-01", "to": "2025-12"}, "months", ("enterprise",)),
]
# Whose view: the role, the party it acts as, and what it sees (party, city or everything).
VIEWERS = [
    (Role.REGULATOR, PROVINCE, None, None),
    (Role.FINANCE, None, None, None),
    (Role.CITY_AUTHORITY, "TANGSHAN", None, "Tangshan"),
    (Role.ENTERPRISE, "E01", "E01", None),
    (Role.ENTERPRISE, "E07", "E07", None),
]


@pytest.fixture
def invariants_hold_afterwards() -> None:
    """Overrides tests/api/conftest.py's per-test check: this module reads one demo ledger."""


@pytest.fixture(scope="module")
def demo_client(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    path = tmp_path_factory.mktemp("paging") / "ledger.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    store = Store(create_ledger_engine(url, sqlite_synchronous="NORMAL"))
    demo.load(store)
    unlimited = Settings(
        database_url=url, failed_auth_limit="1000000/minute", request_limit="1000000/minute"
    )
    with TestClient(create_app(unlimited, store=store)) as client:
        yield client


def _everything(client: TestClient, path: str, query: dict[str, str], key: str) -> list[Json]:
    regulator = headers_for(client, "regulator", party=PROVINCE, principal="paging-regulator")
    response = client.get(path, params={**query, "limit": "1000"}, headers=regulator)
    assert response.status_code == 200, response.text
    assert response.json()["next_cursor"] is None
    items: list[Json] = response.json()[key]
    return items


def _paged(  # noqa: PLR0917 - a listing, whose view and the page size
    client: TestClient,
    path: str,
    query: dict[str, str],
    key: str,
    headers: dict[str, str],
    size: int,
) -> list[list[Json]]:
    pages, cursor = [], None
    while True:
        params = {**query, "limit": str(size), **({"cursor": cursor} if cursor else {})}
        response = client.get(path, params=params, headers=headers)
        assert response.status_code == 200, response.text
        pages.append(response.json()[key])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return pages


@pytest.mark.parametrize(
    ("role", "party", "own", "city"), VIEWERS, ids=[f"{v[0].value}-{v[1]}" for v in VIEWERS]
)
@pytest.mark.parametrize(
    ("path", "query", "key", "fields"), LISTINGS, ids=[listing[0] for listing in LISTINGS]
)
@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(size=st.integers(min_value=1, max_value=9))
def test_the_pages_of_a_listing_are_exactly_what_the_scope_sees(  # noqa: PLR0917
    demo_client: TestClient,
    role: Role,
    party: str | None,
    own: str | None,
    city: str | None,
    path: str,
    query: dict[str, str],
    key: str,
    fields: tuple[str, ...],
    size: int,
) -> None:
    parties = _everything(demo_client, "/v1/parties", {}, "parties")
    city_of = {p["code"]: p["city"] for p in parties}
    headers = headers_for(
        demo_client, role.value, party=party, principal=f"paging-{role.value}-{party}"
    )

    def seen(record: Json) -> bool:
        named = [record[name] for name in fields]
        if own is not None:
            return own in named
        if city is not None:
            return any(city_of.get(code) == city for code in named)
        return True

    expected = [r for r in _everything(demo_client, path, query, key) if seen(r)]
    pages = _paged(demo_client, path, query, key, headers, size)

    assert [r for page in pages for r in page] == expected
    assert all(len(page) == size for page in pages[:-1])
