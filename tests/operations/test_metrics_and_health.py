"""`/metrics` (per route template, retries, sweeper and chain lag) and the health endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from ledger.domain.errors import RetryableConflict
from ledger.domain.ports import UnitOfWork
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.persistence.sweeper_lock import ProcessLock
from ledger.services import journal, transactions
from ledger.settings import Settings
from ledger.sweeper import Sweeper
from tests.factories import setup_registry, transfer

ROUND_A_MINUTE = Settings(expiry_sweep_seconds=60.0)  # rounds run by the test itself


@pytest.fixture
def client(store: Store, database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(database_url=database_url), store=store)) as test_client:
        yield test_client


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of `/metrics`: (name, sorted labels) → value."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def requests_of(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], route: str) -> float:
    return sum(
        value
        for (name, labels), value in samples.items()
        if name == "ledger_http_requests_total" and ("route", route) in labels
    )


def test_requests_are_counted_and_timed_by_route_template(client: TestClient) -> None:
    before = scrape(client)

    for code in ("E01", "E02", "E03"):
        client.get(f"/v1/accounts/{code}")  # refused without a token: counted all the same
    client.get("/v1/no-such-route")

    after = scrape(client)
    template = "/v1/accounts/{code}"
    assert requests_of(after, template) - requests_of(before, template) == 3
    assert requests_of(after, "unmatched") - requests_of(before, "unmatched") == 1
    assert not any("E01" in str(labels) for _, labels in after)
    timed = ("ledger_http_request_duration_seconds_count", (("method", "GET"), ("route", template)))
    assert after[timed] - before.get(timed, 0) == 3


def test_transaction_retries_are_counted(store: Store, client: TestClient) -> None:
    conflicts = iter([RetryableConflict("first attempt lost a race")])

    def work(_: UnitOfWork) -> None:
        for conflict in conflicts:
            raise conflict

    before = scrape(client)[("ledger_transaction_retries_total", ())]
    transactions.in_transaction(store, work)

    assert scrape(client)[("ledger_transaction_retries_total", ())] == before + 1


def test_chain_lag_counts_what_the_sweeper_has_not_sealed_yet(
    store: Store, client: TestClient
) -> None:
    setup_registry(store, "E01")
    for number in range(3):
        journal.post_entry(store, transfer(f"t-{number}", "ISSUANCE", "E01", "1"))

    waiting = scrape(client)
    Sweeper(store, ProcessLock(), ROUND_A_MINUTE).round()
    swept = scrape(client)

    assert waiting[("ledger_chain_lag_entries", ())] == 3
    assert waiting[("ledger_chain_lag_seconds", ())] >= 0
    assert swept[("ledger_chain_lag_entries", ())] == 0
    assert swept[("ledger_chain_lag_seconds", ())] == 0
    assert 0 <= swept[("ledger_sweeper_lag_seconds", ())] < 60
    assert swept[("ledger_swept_total", (("task", "sealed"),))] >= 3
    assert swept[("ledger_database_up", ())] == 1


def test_liveness_and_readiness_answer_when_the_database_does(client: TestClient) -> None:
    assert client.get("/v1/health/live").json() == {"status": "ok"}
    ready = client.get("/v1/health/ready")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ok"


def test_a_database_behind_the_code_is_not_ready(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'never-migrated.db'}"
    store = Store(create_ledger_engine(url))
    with TestClient(create_app(Settings(database_url=url), store=store)) as client:
        ready = client.get("/v1/health/ready")
        live = client.get("/v1/health/live")

    assert ready.status_code == 503
    assert ready.json()["code"] == "not_ready"
    assert "schema is at None" in ready.json()["detail"]
    assert live.status_code == 200


def test_an_unreachable_database_is_not_ready_and_the_metrics_still_answer() -> None:
    url = "postgresql://nobody@127.0.0.1:1/nothing"  # port 1: nothing listens
    store = Store(create_ledger_engine(url))
    with TestClient(create_app(Settings(database_url=url), store=store)) as client:
        ready = client.get("/v1/health/ready")
        samples = scrape(client)

    assert (ready.status_code, ready.json()["code"]) == (503, "not_ready")
    assert samples[("ledger_database_up", ())] == 0
    assert ("ledger_chain_lag_entries", ()) not in samples
