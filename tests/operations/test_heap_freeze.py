"""A server's process leaves what it holds for good out of the garbage collector's full passes
(`gc.freeze` once started): a full collection otherwise traversed every module, route, model and
compiled query with the GIL held, stalling every request of the process for tens of ms."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.persistence.store import Store
from ledger.settings import Settings


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the test process collects as before


@pytest.mark.usefixtures("unfrozen")
def test_a_server_freezes_what_it_holds_once_started(store: Store) -> None:
    app = create_app(Settings(), store=store, freeze_heap=True)
    assert gc.get_freeze_count() == 0
    with TestClient(app) as client:
        frozen = gc.get_freeze_count()
        assert client.get("/v1/health/live").status_code == 200

    assert frozen > 10_000  # the application, its routes and models at least


@pytest.mark.usefixtures("unfrozen")
def test_an_application_made_for_tests_or_tools_freezes_nothing(store: Store) -> None:
    with TestClient(create_app(Settings(), store=store)):
        assert gc.get_freeze_count() == 0
