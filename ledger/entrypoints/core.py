"""Core commands of `emissions-ledger`: migrate, check, expire, seal, verify, create-admin."""

from __future__ import annotations

import argparse
import sys

from ledger.domain.errors import LedgerError
from ledger.entrypoints import acting
from ledger.entrypoints.common import opened_store, with_store
from ledger.persistence import migrate
from ledger.persistence.store import Store
from ledger.services import access, chain, journal, queries, trading
from ledger.settings import Settings


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the core sub-commands on the CLI's parser."""
    commands.add_parser(
        "migrate", help="upgrade the database schema to the latest revision"
    ).set_defaults(run=run_migrate)
    commands.add_parser(
        "check",
        help="verify the ledger's invariants (as the principal of LEDGER_TOKEN); exit 1 if any "
        "is broken",
    ).set_defaults(run=with_store(run_check))
    commands.add_parser(
        "expire", help="expire pending entries and trades past their deadline"
    ).set_defaults(run=run_expire)
    commands.add_parser("seal", help="chain every committed entry not chained yet").set_defaults(
        run=run_seal
    )
    commands.add_parser(
        "verify",
        help="seal, then recompute the hash chain and every invariant; exit 1 on any problem",
    ).set_defaults(run=run_verify)
    admin = commands.add_parser(
        "create-admin",
        help="create an administrator and print its token once (the operator's command; "
        "enrolling any other principal takes two administrators)",
    )
    admin.add_argument("--id", default="admin")
    admin.add_argument("--name", default="Administrator")
    admin.add_argument("--person", default="", help="the person behind it (default: the id)")
    admin.set_defaults(run=run_create_admin)
    recover = commands.add_parser(
        "recover-admin",
        help="a new token for an existing administrator who lost theirs (the operator's command)",
    )
    recover.add_argument("id")
    recover.set_defaults(run=run_recover_admin)


def run_migrate(settings: Settings, _: argparse.Namespace) -> int:
    migrate.upgrade(settings.database_url)
    print("database is at the latest schema revision")
    return 0


def run_check(store: Store, _: argparse.Namespace) -> int:
    """The invariant check, as the principal whose token is in `LEDGER_TOKEN`."""
    actor = acting.actor_from_environment(store, sys.argv[1:])
    violations = queries.check_invariants(store, actor)
    for violation in violations:
        print(f"{violation.rule}: {violation.detail}")
    print("ledger invariants hold" if not violations else f"{len(violations)} violations")
    return 1 if violations else 0


def run_expire(settings: Settings, _: argparse.Namespace) -> int:
    with opened_store(settings) as store:
        expired = journal.expire_pending_entries(store, limit=10_000)
        print(f"expired {len(expired)} pending entries")
        lapsed = trading.expire_due(store, limit=10_000)
        print(f"expired {len(lapsed)} trades past their deadline")
    return 0


def run_seal(settings: Settings, _: argparse.Namespace) -> int:
    with opened_store(settings) as store:
        print(f"chained {chain.seal_all(store)} entries")
    return 0


def run_verify(settings: Settings, _: argparse.Namespace) -> int:
    with opened_store(settings) as store:
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


def run_create_admin(settings: Settings, arguments: argparse.Namespace) -> int:
    """Migrate, then create an administrator (the operator's command, audited as theirs)."""
    migrate.upgrade(settings.database_url)
    try:
        with opened_store(settings) as store:
            record, token = access.create_administrator(
                store, arguments.id, arguments.name, acting.operator(), arguments.person
            )
    except LedgerError as error:
        print(f"refused: {error.detail}", file=sys.stderr)
        return 1
    print(
        f"administrator {record.id} created; its token "
        f"(shown once, expires {token.expires_at:%Y-%m-%d}):"
    )
    print(token.secret)
    return 0


def run_recover_admin(settings: Settings, arguments: argparse.Namespace) -> int:
    """A lost administrator's new token, from the shell (audited as the operator's)."""
    try:
        with opened_store(settings) as store:
            token = access.recover_administrator(store, arguments.id, acting.operator())
    except LedgerError as error:
        print(f"refused: {error.detail}", file=sys.stderr)
        return 1
    print(f"a new token for {arguments.id} (shown once, expires {token.expires_at:%Y-%m-%d}):")
    print(token.secret)
    return 0
