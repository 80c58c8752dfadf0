"""The permission matrix for the command line and the demo loader: no caller skips authority.

Every command that acts in the registry runs as the principal whose token is in `LEDGER_TOKEN`
and is allowed or refused exactly as the operations table says for that principal's role; with
no token it is refused. The demo loader performs every step as a demo principal, and its
allocations above the four-eyes threshold and its permits applied only through a second
regulator's approval.
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.domain.access import RequestState, Role
from ledger.domain.operations import OPERATIONS
from ledger.entrypoints import demo
from ledger.entrypoints.cli import main, parser
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from tests.factories import actor, token_for

# Each acting command with the operation it performs (its arguments reach no further than the
# role check for a refused role).
COMMANDS: list[tuple[str, list[str]]] = [
    ("invariants.check", ["check"]),
    ("periods.close", ["close-period", "2025-01"]),
    ("statements.import", ["import-statement", "{csv}", "--account", "E01:cash"]),
    ("reconciliations.start", ["reconcile", "imp-1"]),
    ("finance.trial_balance", ["export", "trial-balance", "--output", "{out}"]),
    ("cems.import", ["import-cems", "{csv}"]),
    ("cems.recompute", ["recompute-cems", "--from", "2025-01", "--to", "2025-01"]),
    ("tax.quarter", ["tax", "E01", "--quarter", "2025Q1"]),
    ("tax.file", ["file-return", "E01", "--quarter", "2025Q1"]),
]
PARTY_OF = {Role.ENTERPRISE: "E01", Role.CITY_AUTHORITY: "TANGSHAN", Role.REGULATOR: "HEBEI"}
# Commands that act as no principal: the operator's at the server's shell (schema, bootstrap,
# administrators' credentials, the deadlines' sweep, the chain's seals and checks, serving, the
# sweeper's process) and those that read no registry at all (synthetic data and the demo's tax
# table).
OPERATOR_COMMANDS = frozenset(
    {
        "checkpoint",
        "create-admin",
        "demo",
        "demo-tax",
        "expire",
        "generate-cems",
        "init",
        "migrate",
        "recover-admin",
        "seal",
        "serve",
        "sweep",
        "verify",
    }
)


@pytest.fixture(scope="module")
def demo_url(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A demo registry (four-eyes as configured by default), on SQLite."""
    path = tmp_path_factory.mktemp("cli") / "ledger.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    store = Store(create_ledger_engine(url))
    demo.load(store)
    store.dispose()
    yield url


def _run(
    arguments: list[str],
    token: str | None,
    url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> int:
    csv = tmp_path / "lines.csv"
    csv.write_text("not,a,statement\n", encoding="utf-8")
    argv = [a.format(csv=csv, out=tmp_path / "out.csv") for a in arguments]
    monkeypatch.setenv("LEDGER_DATABASE_URL", url)
    if token is None:
        monkeypatch.delenv("LEDGER_TOKEN", raising=False)
    else:
        monkeypatch.setenv("LEDGER_TOKEN", token)
    monkeypatch.setattr("sys.argv", ["emissions-ledger", *argv])
    return main(argv)


def test_every_command_is_in_the_matrix_or_is_the_operators() -> None:
    subcommands = next(
        action for action in parser()._actions if isinstance(action, argparse._SubParsersAction)
    )
    names = set(subcommands.choices)

    assert names - {arguments[0] for _, arguments in COMMANDS} == OPERATOR_COMMANDS


@pytest.mark.parametrize(("operation", "arguments"), COMMANDS, ids=[c[0] for c in COMMANDS])
def test_a_command_is_allowed_or_refused_as_the_table_says_for_the_token_s_role(  # noqa: PLR0917
    demo_url: str,
    operation: str,
    arguments: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = Store(create_ledger_engine(demo_url))
    wrong = []
    for role in [*Role, None]:
        token = None
        if role is not None:
            principal = f"cli-{role.value}".replace("_", "-")
            token = token_for(store, actor(store, role, PARTY_OF.get(role), principal=principal))
        capsys.readouterr()
        _run(arguments, token, demo_url, tmp_path, monkeypatch)
        printed = capsys.readouterr().err
        refused_as = "unauthenticated" if role is None else "forbidden"
        allowed = role is not None and role in OPERATIONS[operation]
        if allowed == (f"({refused_as})" in printed):
            wrong.append(f"{role}: {printed.strip()[:120]}")
    store.dispose()
    assert wrong == []


def test_the_demo_loader_passes_four_eyes_like_everyone(demo_url: str) -> None:
    store = Store(create_ledger_engine(demo_url))
    with store(read_only=True) as uow:
        applied = uow.access.list_requests(RequestState.APPLIED, None, "", 1000)
        audit = uow.access.list_audit(None, 0, 100_000)
        outlets = uow.registry.list_outlets(None, 0, 1000)
    store.dispose()
    allocations = [request for request in applied if request.operation == "allocation"]
    permits = [request for request in applied if request.operation == "permit"]

    # E01's SO2 entitlement is 1,500 t/a, above the 1,000 t/a threshold, among others.
    assert allocations, "the demo's large allocations waited for a second regulator"
    # Every outlet's first permit states standards: it lowers tax against no permit at all.
    assert len(permits) == len(outlets)
    assert {(r.initiator, r.decided_by) for r in [*allocations, *permits]} == {
        ("demo-regulator", "demo-regulator-2")
    }
    assert {line.action for line in audit if line.principal_id == "demo-regulator"} >= {
        "entitlements.confirm",
        "trades.record",
        "permits.set",
        "cities.set",
        "cities.decide",
    }
    assert {line.action for line in audit if line.principal_id == "demo-tangshan"} >= {
        "listings.create"  # the demo's T3 is Tangshan's reserve sold through a listing
    }
