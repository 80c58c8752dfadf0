"""Fixtures of the HTTP tests: the FastAPI app over a fresh database of each backend.

`client` runs the app's lifespan (the `with` block), so start-up and shut-down run as in
production; the store's clock is the wall clock shifted by an offset the test controls.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.settings import Settings
from tests.api.support import CEA, CNY, Clock, headers_for, post_entry, seed_registry, transfer


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(database_url: str, clock: Clock) -> Iterator[TestClient]:
    """The API over an empty migrated database (SQLite and PostgreSQL)."""
    store = Store(create_ledger_engine(database_url, sqlite_synchronous="NORMAL"), clock=clock)
    # Four-eyes is off here: its own tests (test_access_http.py) turn it on.
    app = create_app(Settings(database_url=database_url, four_eyes=frozenset()), store=store)
    with TestClient(app) as test_client:
        test_client.headers.update(headers_for(test_client, "regulator"))
        yield test_client


@pytest.fixture(autouse=True)
def invariants_hold_afterwards(client: TestClient) -> Iterator[None]:
    """Whatever a test did or was refused, the ledger is consistent afterwards."""
    yield
    response = client.get("/v1/invariants")
    assert response.status_code == 200, response.text
    assert response.json() == {"ok": True, "violations": []}


@pytest.fixture
def ledger(client: TestClient) -> TestClient:
    """Instruments and the accounts ISSUANCE, E01, E02, registered through the API."""
    seed_registry(client)
    return client


@pytest.fixture
def funded(ledger: TestClient) -> TestClient:
    """E01 holds 1500 t of SO2-2026, 1000 tCO2 of CEA-2025 and 10000 CNY; E02 holds nothing."""
    post_entry(ledger, transfer("fund-so2", "ISSUANCE", "E01", "1500"))
    post_entry(ledger, transfer("fund-cea", "ISSUANCE", "E01", "1000", CEA))
    post_entry(ledger, transfer("fund-cny", "ISSUANCE", "E01", "10000.00", CNY))
    return ledger
