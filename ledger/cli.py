"""The `emissions-ledger` command: serve, migrate, check, expire, seal, verify, demo,
create-admin (and the monitoring, tax and finance commands)."""

from __future__ import annotations

import argparse
import sys

from ledger import demo, finance_cli, monitoring_cli, tax_cli
from ledger.domain.errors import LedgerError
from ledger.persistence import migrate
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.services import access, chain, journal, queries, trading
from ledger.settings import Settings


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0911 - one exit per command
    parser = argparse.ArgumentParser(
        prog="emissions-ledger",
        description="Emissions rights ledger. The database is LEDGER_DATABASE_URL "
        "(default: sqlite:///emissions-ledger.db in the working directory).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the HTTP API (migrates first)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--no-access-log", action="store_true", help="do not log every request (load tests)"
    )
    serve.add_argument(
        "--demo-if-empty",
        action="store_true",
        help="load the synthetic demo registry first if the database holds no registry yet",
    )
    commands.add_parser("migrate", help="upgrade the database schema to the latest revision")
    commands.add_parser("check", help="verify the ledger's invariants; exit 1 if any is broken")
    commands.add_parser("expire", help="expire pending entries and trades past their deadline")
    commands.add_parser("seal", help="chain every committed entry not chained yet")
    commands.add_parser(
        "verify",
        help="seal, then recompute the hash chain and every invariant; exit 1 on any problem",
    )
    commands.add_parser(
        "demo", help="load the synthetic demo registry (parties, rights, trades T1–T6) if absent"
    )
    admin = commands.add_parser(
        "create-admin", help="bootstrap the first administrator and print its token (once)"
    )
    admin.add_argument("--id", default="admin")
    admin.add_argument("--name", default="Administrator")
    finance_cli.add_commands(commands)
    monitoring_cli.add_commands(commands)
    tax_cli.add_commands(commands)
    arguments = parser.parse_args(argv)
    settings = Settings.from_environment()
    if arguments.command == "serve":
        if arguments.demo_if_empty:
            _demo(settings)
        from ledger.server import serve_http  # noqa: PLC0415 - only the server needs uvicorn

        migrate.upgrade(settings.database_url)
        serve_http(
            "api.main:app",
            arguments.host,
            arguments.port,
            arguments.workers,
            access_log=not arguments.no_access_log,
        )
        return 0
    if arguments.command == "migrate":
        migrate.upgrade(settings.database_url)
        print("database is at the latest schema revision")
        return 0
    if arguments.command == "demo":
        return _demo(settings)
    if arguments.command == "create-admin":
        return _create_admin(settings, arguments.id, arguments.name)
    store = Store(create_ledger_engine(settings.database_url))
    try:
        if arguments.command in finance_cli.COMMANDS:
            return finance_cli.run(store, arguments)
        if arguments.command in monitoring_cli.COMMANDS:
            return monitoring_cli.run(store, arguments)
        if arguments.command in tax_cli.COMMANDS:
            return tax_cli.run(store, arguments)
        if arguments.command in ("check", "seal", "verify"):
            return _audit(store, arguments.command)
        expired = journal.expire_pending_entries(store, limit=10_000)
        print(f"expired {len(expired)} pending entries")
        lapsed = trading.expire_due(store, limit=10_000)
        print(f"expired {len(lapsed)} trades past their deadline")
        return 0
    finally:
        store.dispose()


def _demo(settings: Settings) -> int:
    """Migrate, then load the demo registry unless a registry is there already."""
    migrate.upgrade(settings.database_url)
    store = Store(create_ledger_engine(settings.database_url))
    try:
        if demo.is_loaded(store):
            print("a registry is already loaded; the demo was not loaded again")
            return 0
        outcomes = demo.load(store)
        issued = demo.create_principals(store)
    finally:
        store.dispose()
    print("demo registry loaded; trades:")
    print(demo.summary(outcomes))
    print("demo principals (tokens are shown once; send `Authorization: Bearer <token>`):")
    for principal_id, role, token in issued:
        print(f"  {principal_id:18} {role.value:15} {token}")
    return 0


def _create_admin(settings: Settings, principal_id: str, name: str) -> int:
    """Migrate, then create the first administrator; refused once one exists."""
    migrate.upgrade(settings.database_url)
    store = Store(create_ledger_engine(settings.database_url))
    try:
        record, token = access.create_administrator(store, principal_id, name)
    except LedgerError as error:
        print(f"refused: {error.detail}", file=sys.stderr)
        return 1
    finally:
        store.dispose()
    print(
        f"administrator {record.id} created; its token "
        f"(shown once, expires {token.expires_at:%Y-%m-%d}):"
    )
    print(token.secret)
    return 0


def _check(store: Store) -> int:
    violations = queries.check_invariants(store)
    for violation in violations:
        print(f"{violation.rule}: {violation.detail}")
    print("ledger invariants hold" if not violations else f"{len(violations)} violations")
    return 1 if violations else 0


def _audit(store: Store, command: str) -> int:
    if command == "check":
        return _check(store)
    if command == "seal":
        print(f"chained {chain.seal_all(store)} entries")
        return 0
    return _verify(store)


def _verify(store: Store) -> int:
    report = chain.verify_journal(store)
    print(f"chained entries verified: {report.chained}")
    broken = report.first_break
    if broken is not None:
        print(
            f"first broken link: chain_seq {broken.chain_seq}, entry {broken.entry_id}: "
            f"{broken.problem.value} ({broken.detail})"
        )
    for violation in report.violations:
        print(f"{violation.rule}: {violation.detail}")
    print("journal chain and invariants hold" if report.ok else "verification FAILED")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
