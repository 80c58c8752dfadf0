"""Authority in the core, whoever calls: every use case checks its actor's role itself.

The API's permission matrix (tests/api/test_permission_matrix.py) proves the HTTP edge; this
proves the services, which the command line, the demo loader and the console call directly:
every function of `ledger.services` that takes an actor is a declared use case, every declared
operation is in the permission table and performed by some use case, and a role the table
refuses is refused by the use case (and audited) before it reads or writes anything.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import ledger.services
from ledger.domain.access import Forbidden, Role
from ledger.domain.operations import OPERATIONS
from ledger.domain.registry import Party, PartyKind
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from tests.factories import NO_FOUR_EYES, actor


def _use_cases() -> Iterator[tuple[str, Callable[..., Any]]]:
    for module_info in pkgutil.iter_modules(ledger.services.__path__):
        module = importlib.import_module(f"ledger.services.{module_info.name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ == module.__name__ and not name.startswith("_"):
                yield f"{module_info.name}.{name}", function


USE_CASES = dict(_use_cases())
DECLARED = {name: f for name, f in USE_CASES.items() if hasattr(f, "operation")}


# The machinery of authority itself, which takes an actor to check, audit or gate for it.
MACHINERY = ("authority.", "transactions.")


def test_every_function_that_takes_an_actor_is_a_declared_use_case() -> None:
    # A use case's signature is (uow_factory, actor, ...); helpers that work inside a caller's
    # unit of work take (uow, actor, ...) and are not entry points.
    takes_actor = {
        name
        for name, function in USE_CASES.items()
        if list(inspect.signature(function).parameters)[:2] == ["uow_factory", "actor"]
        and not name.startswith(MACHINERY)
        and not name.split(".")[1].startswith("run_approved")  # the approvals' executors
    }

    assert takes_actor - DECLARED.keys() == set()


def test_every_operation_in_the_table_is_performed_by_a_use_case() -> None:
    performed = {function.operation for function in DECLARED.values()}
    public = {name for name, roles in OPERATIONS.items() if not roles}

    assert set(OPERATIONS) - performed - public - {"me.read"} == set()


# The party each role acts as in this matrix (registered by `matrix_store`).
PARTY_OF = {Role.ENTERPRISE: "E1", Role.CITY_AUTHORITY: "TANGSHAN", Role.REGULATOR: "HEBEI"}


@pytest.fixture(scope="module")
def matrix_store(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    """One SQLite ledger for the whole matrix (what it checks happens before any storage)."""
    path = tmp_path_factory.mktemp("matrix") / "ledger.db"
    shutil.copyfile(sqlite_template, path)
    store = Store(create_ledger_engine(f"sqlite:///{path}"), four_eyes=NO_FOUR_EYES)
    with store() as uow:
        for party in (
            Party("HEBEI", PartyKind.AUTHORITY, "Hebei"),
            Party("TANGSHAN", PartyKind.AUTHORITY, "Tangshan", city="Tangshan"),
            Party("E1", PartyKind.ENTERPRISE, "E1", city="Tangshan"),
        ):
            uow.registry.add_party(party, uow.now())
        uow.commit()
    yield store
    store.dispose()


@pytest.mark.parametrize("use_case", sorted(DECLARED))
def test_a_use_case_refuses_every_role_the_table_refuses(
    matrix_store: Store, use_case: str
) -> None:
    function = DECLARED[use_case]
    allowed = OPERATIONS[function.operation]
    parameters = list(inspect.signature(function).parameters)[2:]
    for role in sorted(set(Role) - allowed) if allowed else ():
        name = f"{role.value}-{use_case}".replace("_", "-").replace(".", "-")[:40]
        caller = actor(matrix_store, role, PARTY_OF.get(role), principal=name)

        # The role is checked first: whatever the other arguments, nothing else is read.
        with pytest.raises(Forbidden):
            function(matrix_store, caller, *[None] * len(parameters))

        with matrix_store(read_only=True) as uow:
            (line,) = uow.access.list_audit(caller.id, 0, 10)
        assert (line.action, line.outcome) == (function.operation, "denied")
