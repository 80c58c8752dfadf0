"""The request id: taken from `X-Request-Id` when harmless, else made; answered, and readable
by the routes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from api.app import create_app
from api.permissions import PERMISSIONS
from ledger.domain.operations import PUBLIC
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.settings import Settings


@pytest.fixture
def client(sqlite_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The API, plus a public route that answers the id it reads from `request.state`."""
    store = Store(create_ledger_engine(sqlite_database_url, sqlite_synchronous="NORMAL"))
    app = create_app(Settings(database_url=sqlite_database_url), store=store)
    monkeypatch.setitem(PERMISSIONS, "GET /test/request-id", PUBLIC)

    @app.get("/test/request-id")
    def echo(request: Request) -> dict[str, str]:
        return {"request_id": request.state.request_id}

    with TestClient(app) as test_client:
        yield test_client


def test_a_callers_request_id_is_kept_and_answered(client: TestClient) -> None:
    response = client.get("/test/request-id", headers={"X-Request-Id": "batch-7:line.12"})

    assert response.headers["x-request-id"] == "batch-7:line.12"
    assert response.json() == {"request_id": "batch-7:line.12"}


def test_a_missing_or_unsafe_request_id_is_replaced_by_a_new_one(client: TestClient) -> None:
    unsafe = client.get("/test/request-id", headers={"X-Request-Id": 'x" forged="line'})
    first, second = client.get("/test/request-id"), client.get("/test/request-id")

    answered = {r.headers["x-request-id"] for r in (unsafe, first, second)}
    assert len(answered) == 3
    assert all(len(request_id) == 32 for request_id in answered)
    assert unsafe.json()["request_id"] == unsafe.headers["x-request-id"]


def test_refusals_answer_the_request_id_too(client: TestClient) -> None:
    missing = client.get("/v1/no-such-route", headers={"X-Request-Id": "r-404"})
    too_large = client.post(
        "/v1/entries", content=b"x" * 10_000_000, headers={"X-Request-Id": "r-413"}
    )

    assert (missing.status_code, missing.headers["x-request-id"]) == (404, "r-404")
    assert (too_large.status_code, too_large.headers["x-request-id"]) == (413, "r-413")
