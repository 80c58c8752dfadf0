"""Fixtures of the console's HTTP tests: the application over a fresh SQLite registry, one
principal of each role with its token, and a signed-in client per role."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html import unescape
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
    Role.CEMS_NETWORK: None,
}


def _application(template: Path, folder: Path) -> tuple[FastAPI, Store]:
    path = folder / "ledger.db"
    shutil.copyfile(template, path)
    url = f"sqlite:///{path}"
    store = Store(create_ledger_engine(url, sqlite_synchronous="NORMAL"), four_eyes=NO_FOUR_EYES)
    build_registry(store)
    settings = Settings(database_url=url, four_eyes=frozenset(), failed_auth_limit="5/minute")
    return create_app(settings, store=store), store


@pytest.fixture
def app(sqlite_template: Path, tmp_path: Path) -> Iterator[FastAPI]:
    """The application over a registry of its own (for tests that change sessions or limits)."""
    application, store = _application(sqlite_template, tmp_path)
    yield application
    console_of(application).jobs.close()  # its progress writer; jobs still running end
    store.dispose()


@pytest.fixture(scope="module")
def shared_app(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FastAPI]:
    """One application for a module whose tests only read (the authorization matrix)."""
    application, store = _application(sqlite_template, tmp_path_factory.mktemp("console"))
    yield application
    store.dispose()


def tokens_of(app: FastAPI) -> dict[Role, str]:
    store = app.state.store
    return {role: token_for(store, actor(store, role, party)) for role, party in PRINCIPALS.items()}


@pytest.fixture
def tokens(app: FastAPI) -> dict[Role, str]:
    return tokens_of(app)


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


SignedIn = Callable[[Role], tuple[TestClient, str]]


def _signed_in(app: FastAPI, tokens: dict[Role, str], clients: list[TestClient]) -> SignedIn:
    def make(role: Role) -> tuple[TestClient, str]:
        client = TestClient(app)
        clients.append(client)
        return client, sign_in(client, tokens[role])

    return make


@pytest.fixture
def signed_in(app: FastAPI, tokens: dict[Role, str]) -> Iterator[SignedIn]:
    """A new client signed in as a principal of `role`, and its session's CSRF token."""
    clients: list[TestClient] = []
    yield _signed_in(app, tokens, clients)
    for client in clients:
        client.close()


@pytest.fixture(scope="module")
def signed_in_once(shared_app: FastAPI) -> Iterator[SignedIn]:
    """One client per role for the module (signed in on first use), over `shared_app`."""
    clients: list[TestClient] = []
    make = _signed_in(shared_app, tokens_of(shared_app), clients)
    cache: dict[Role, tuple[TestClient, str]] = {}

    def once(role: Role) -> tuple[TestClient, str]:
        if role not in cache:
            cache[role] = make(role)
        return cache[role]

    yield once
    for client in clients:
        client.close()


# -- walking a list's pages (tests/console/test_console_lists.py) -----------------------------

ROW = r'<th scope="row">(?:<a [^>]*>)?([^<]*)'  # a row's heading (the principals' is a link)
Setup = Callable[[Store], str]  # prepares the rows; answers the path to walk


@dataclass(frozen=True)
class Case:
    """A list of a page: who opens it, where, and how its rows and next links are found."""

    role: Role | None  # None: the public page, no sign-in
    path: str
    marker: str  # the list's caption (or its chart's title): its rows follow it
    param: str = "page"  # the pager's query parameter
    setup: Setup | None = None
    row: str = ROW
    size: int = 2


def rows_of(html: str, case: Case) -> list[str]:
    """The rows of the case's list: those after its caption, up to the end of its table."""
    start = html.index(case.marker)
    table = html[start : html.index("</table>", start)]
    return [unescape(found) for found in re.findall(case.row, table)]


def walk(client: TestClient, url: str, case: Case) -> list[list[str]]:
    """Each page's rows, following the list's next links from `url` until there is none."""
    pages: list[list[str]] = []
    for _ in range(50):
        answer = client.get(url)
        assert answer.status_code == 200, answer.text
        pages.append(rows_of(answer.text, case))
        link = re.search(rf'<a href="(\?{case.param}=[^"]*)" rel="next"', answer.text)
        if link is None:
            return pages
        url = url.split("?", 1)[0] + unescape(link.group(1))
    raise AssertionError("the pages never end")
