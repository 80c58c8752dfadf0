"""API fuzzing with schemathesis: every operation of the OpenAPI schema, called by each role it
is open to with generated inputs (schemathesis' boundary cases first, then random ones), never
answers 5xx and every response conforms to the schema: status code documented, content type,
headers, body. Besides what the schema describes, about half the cases carry one hostile value
in a query or path parameter or a body field (`hostile`): a NUL in text, an integer beyond the
columns, a date or instant at or beyond the ends of the documented range.

The app runs in process (ASGI) over a database holding the demo registry (parties, entitlements,
trades T1–T6) and the demo principals, one per role, shared by the module's tests: fuzzing is
about inputs, not about a fresh ledger per call; the invariants are checked once at the end.
Each role fuzzes only the operations the permission table opens to it (a closed one answers 403
before any input is read; tests/api/test_permission_matrix.py covers those).

Backends: every operation on SQLite and on PostgreSQL, whose stricter storage (column widths, NUL
bytes, 32- and 64-bit integers) turns an input the API let through into a 500 that SQLite never
shows. Bounds: env LEDGER_FUZZ_EXAMPLES random examples per operation (default 8) and
LEDGER_FUZZ_BACKENDS (default `sqlite,postgresql`) keep the module to a couple of minutes on two
workers.
"""

from __future__ import annotations

import copy
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from api.permissions import PERMISSIONS
from bench.databases import fresh_database
from ledger.domain.access import Role
from ledger.entrypoints import demo
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.services import queries
from ledger.settings import Settings
from tests.conftest import POSTGRES_ADMIN_URL, require_postgres
from tests.factories import actor

FUZZ_EXAMPLES = int(os.environ.get("LEDGER_FUZZ_EXAMPLES", "8"))
FUZZ_BACKENDS = os.environ.get("LEDGER_FUZZ_BACKENDS", "sqlite,postgresql").split(",")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# The demo principal of each role (ledger/entrypoints/demo.py), each acting as a demo party.
PRINCIPAL_OF_ROLE = {
    Role.ADMINISTRATOR: "demo-admin",
    Role.REGULATOR: "demo-regulator",
    Role.CITY_AUTHORITY: "demo-tangshan",
    Role.ENTERPRISE: "demo-e01",
    Role.VERIFIER: "demo-verifier",
    Role.FINANCE: "demo-finance",
    Role.CEMS_NETWORK: "demo-cems-network",
}


class ForwardingApp:
    """An ASGI app passing every call on to the app under test. The schema is loaded when the
    module is imported, before a fixture has built the app (and its database) to fuzz."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


# The schema is read from this app (no database is touched); each test points it at its own.
FORWARD = ForwardingApp(create_app(Settings(database_url="sqlite://")))
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", FORWARD)

# What `hostile` puts in one place of a case: text the databases cannot store (a lone surrogate
# cannot be sent by this client: tests/api/test_input_bounds_http.py sends one), integers beyond
# INTEGER and BIGINT columns, dates and instants at and beyond the ends of 2000-01-01..2100-12-31.
HOSTILE: tuple[str | int, ...] = (
    "\x00",
    "x\x00y",
    2**63,
    -(2**63) - 1,
    2**31,
    -1,
    "0001-01-01",
    "9999-12-31",
    "1999-12-31",
    "2100-12-31",
    "2101-01-01",
    "0000-01",
    "9999-12",
    "9999-12-31T23:00-14:00",
    "0001-01-01T00:00+14:00",
    "2100-12-31T23:59:59Z",
)
Place = tuple[str, tuple[str | int, ...]]  # ("query" | "path" | "body", where in it)


def _leaves(value: Any, at: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Where a JSON body holds a string or an integer."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*at, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*at, index))
    elif isinstance(value, str | int) and not isinstance(value, bool):
        yield at


def _places(case: Any) -> list[Place]:
    places: list[Place] = [("query", (name,)) for name in case.query or {}]
    places += [("path", (name,)) for name in case.path_parameters or {}]
    if isinstance(case.body, dict | list):
        places += [("body", at) for at in _leaves(case.body) if at]
    return places


def _with(case: Any, place: Place, value: str | int) -> Any:
    """A copy of `case` with `value` at `place` (as text outside a body)."""
    where, at = place
    derived = case.derive()
    if where == "query":
        derived.query = {**case.query, at[0]: str(value)}
    elif where == "path":
        derived.path_parameters = {**case.path_parameters, at[0]: str(value)}
    else:
        body = copy.deepcopy(case.body)
        container = body
        for step in at[:-1]:
            container = container[step]
        container[at[-1]] = value
        derived.body = body
    return derived


@SCHEMA.hook("flatmap_case")
def hostile(_: Any, case: Any) -> Any:
    """The case as generated, or (about as often) with one hostile value in it."""
    places = _places(case)
    if not places:
        return st.just(case)
    altered = st.builds(_with, st.just(case), st.sampled_from(places), st.sampled_from(HOSTILE))
    return st.one_of(st.just(case), altered)


@dataclass(frozen=True, slots=True)
class FuzzedLedger:
    app: Any
    tokens: dict[str, str]  # role -> bearer token


@pytest.fixture
def invariants_hold_afterwards() -> None:
    """Overrides tests/api/conftest.py's per-test check (and its fresh database per test):
    the module's ledgers check the invariants once, after the fuzzing."""


@contextmanager
def _demo_ledger(url: str) -> Iterator[FuzzedLedger]:
    store = Store(create_ledger_engine(url, sqlite_synchronous="NORMAL"))
    issued = {principal: token for principal, _, token in demo.load(store).tokens}
    tokens = {role.value: issued[principal] for role, principal in PRINCIPAL_OF_ROLE.items()}
    yield FuzzedLedger(create_app(Settings(database_url=url), store=store), tokens)
    # Whatever the fuzzer got through, the ledger is still consistent.
    assert queries.check_invariants(store, actor(store)) == []
    store.dispose()


@pytest.fixture(scope="module")
def sqlite_ledger(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FuzzedLedger]:
    path = tmp_path_factory.mktemp("fuzz") / "ledger.db"
    shutil.copyfile(sqlite_template, path)
    with _demo_ledger(f"sqlite:///{path}") as ledger:
        yield ledger


@pytest.fixture(scope="module")
def postgresql_ledger() -> Iterator[FuzzedLedger]:
    """On a database of its own: the session's PostgreSQL database is truncated by the other
    modules' tests, which xdist may run between these."""
    require_postgres()
    with (
        fresh_database("postgresql", "fuzz", POSTGRES_ADMIN_URL) as database,
        _demo_ledger(database.url) as ledger,
    ):
        yield ledger


def _selected(role: Role) -> Callable[[Any], bool]:
    def matches(context: Any) -> bool:
        method = context.operation.method.upper()
        roles = PERMISSIONS[f"{method} {context.operation.path}"]
        return not roles or role in roles

    return matches


def _fuzz_as(role: Role, backend: str) -> Callable[..., None]:
    """The fuzzing test of one role on one backend: one test item per operation it may call."""

    @SCHEMA.include(_selected(role)).parametrize()
    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def test(case: Any, request: pytest.FixtureRequest) -> None:
        ledger: FuzzedLedger = request.getfixturevalue(f"{backend}_ledger")
        FORWARD.app = ledger.app
        headers = {"Authorization": f"Bearer {ledger.tokens[role.value]}"}
        case.call_and_validate(headers=headers, checks=CHECKS)

    test.__name__ = f"test_fuzzing_as_{role.value}_on_{backend}"
    fuzzing_test: Callable[..., None] = test
    return fuzzing_test


for _backend in FUZZ_BACKENDS:
    for _role in PRINCIPAL_OF_ROLE:
        globals()[f"test_fuzzing_as_{_role.value}_on_{_backend}"] = _fuzz_as(_role, _backend)
