"""Fixtures of the console's HTTP tests: the application over a fresh SQLite registry, one
principal of each role with its token, and a signed-in client per role."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.console.web import Context
from ledger.domain.access import Role
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.settings import Settings
from tests.conftest import fresh_database_url
from tests.factories import NO_FOUR_EYES, actor, token_for
from tests.integration.registry_support import build_registry

# A principal of each role; the enterprise and the city act as parties of the registry.
PRINCIPALS: dict[Role, str | None] = {
    Role.REGULATOR: "HEBEI",
    Role.CITY_AUTHORITY: "TANGSHAN",
    Role.ENTERPRISE: "E1",
    Role.VERIFIER: None,
    Role.FINANCE: None,
    Role.ADMINISTRATOR: None,
}


@pytest.fixture
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FastAPI]:
    url = fresh_database_url("sqlite", request, tmp_path)
    store = Store(create_ledger_engine(url, sqlite_synchronous="NORMAL"), four_eyes=NO_FOUR_EYES)
    build_registry(store)
    settings = Settings(database_url=url, four_eyes=frozenset(), failed_auth_limit="5/minute")
    application = create_app(settings, store=store)
    yield application
    store.dispose()


@pytest.fixture
def tokens(app: FastAPI) -> dict[Role, str]:
    store = app.state.store
    return {role: token_for(store, actor(store, role, party)) for role, party in PRINCIPALS.items()}


def console_of(app: FastAPI) -> Context:
    """The mounted console's shared parts (its sessions, their clock)."""
    mounted = next(r for r in app.routes if getattr(r, "path", "") == "/console")
    context: Context = mounted.app.state.console  # type: ignore[attr-defined]
    return context


def csrf_in(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, "the page has a form with a CSRF token"
    return found.group(1)


def sign_in(client: TestClient, token: str) -> str:
    """Sign in through the form; the session's CSRF token (from the dashboard's form)."""
    page = client.get("/console/sign-in")
    answer = client.post(
        "/console/sign-in",
        data={"csrf": csrf_in(page.text), "token": token, "next": "/console/"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return csrf_in(client.get("/console/").text)


@pytest.fixture
def signed_in(
    app: FastAPI, tokens: dict[Role, str]
) -> Iterator[Callable[[Role], tuple[TestClient, str]]]:
    """A client signed in as a principal of `role`, and its session's CSRF token."""
    clients: list[TestClient] = []

    def make(role: Role) -> tuple[TestClient, str]:
        client = TestClient(app)
        clients.append(client)
        return client, sign_in(client, tokens[role])

    yield make
    for client in clients:
        client.close()
