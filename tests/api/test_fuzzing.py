"""API fuzzing with schemathesis: every operation of the OpenAPI schema, called by each role it
is open to with generated inputs (schemathesis' boundary cases first, then random ones), never
answers 5xx and every response conforms to the schema: status code documented, content type,
headers, body.

The app runs in process (ASGI) over a database holding the demo registry (parties, entitlements,
trades T1–T6) and the demo principals, one per role, shared by the module's tests: fuzzing is
about inputs, not about a fresh ledger per call; the invariants are checked once at the end.
Each role fuzzes only the operations the permission table opens to it (a closed one answers 403
before any input is read; tests/api/test_permission_matrix.py covers those).

Backends: every operation on SQLite; on PostgreSQL the writes only (POST/PUT), where its stricter
storage (column widths, NUL bytes, 64-bit integers) turns an input the API let through into a
500 that SQLite never shows; reads add little there and would double the run. Bounds: env
LEDGER_FUZZ_EXAMPLES random examples per operation (default 8) and LEDGER_FUZZ_BACKENDS
(default `sqlite,postgresql`) keep the module near a minute on two workers.
"""

from __future__ import annotations

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
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
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


def _selected(role: Role, backend: str) -> Callable[[Any], bool]:
    def matches(context: Any) -> bool:
        method = context.operation.method.upper()
        roles = PERMISSIONS[f"{method} {context.operation.path}"]
        open_to_role = not roles or role in roles
        return open_to_role and (backend == "sqlite" or method in WRITES)

    return matches


def _fuzz_as(role: Role, backend: str) -> Callable[..., None]:
    """The fuzzing test of one role on one backend: one test item per operation it may call."""

    @SCHEMA.include(_selected(role, backend)).parametrize()
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
