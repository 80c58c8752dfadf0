"""Core commands of `emissions-ledger`: init, migrate, check, expire, seal, verify, checkpoint,
create-admin."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ledger.domain.chain import SealRefused
from ledger.domain.errors import LedgerError
from ledger.domain.registry import PROVINCE, Party, PartyKind
from ledger.entrypoints import acting
from ledger.entrypoints.common import opened_store, refused, with_store
from ledger.persistence import migrate
from ledger.persistence.store import Store
from ledger.services import access, checkpoints, journal, parties, queries, trading
from ledger.services.rights import EXCHANGE
from ledger.settings import Settings


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the core sub-commands on the CLI's parser."""
    init = commands.add_parser(
        "init",
        help="bootstrap a registry without the demo: migrate, register the province and the "
        "exchange, create the first administrator and print its token (once)",
    )
    init.add_argument("--province-name", default="Hebei Province")
    init.add_argument("--exchange-name", default="Hebei Emissions Exchange")
    init.add_argument("--admin-id", default="admin")
    init.add_argument("--admin-name", default="Administrator")
    init.add_argument("--admin-person", default="", help="the person behind it (default: the id)")
    init.set_defaults(run=run_init)
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
    seal = commands.add_parser("seal", help="chain every committed entry not chained yet")
    seal.add_argument(
        "--backlog",
        action="store_true",
        help="also chain entries recorded more than 24 h ago (only after checking the chain "
        "against the checkpoints kept outside the database)",
    )
    seal.set_defaults(run=run_seal)
    verify = commands.add_parser(
        "verify",
        help="recompute every hash chain and every invariant (writes nothing); exit 1 on any "
        "problem",
    )
    verify.add_argument(
        "--checkpoints",
        type=Path,
        metavar="DIR",
        help="check the chains against the checkpoints in DIR (default: LEDGER_CHECKPOINT_DIR)",
    )
    verify.set_defaults(run=run_verify)
    checkpoint = commands.add_parser(
        "checkpoint",
        help="print where every hash chain ends now (verified since the last checkpoint) and "
        "write it to DIR; publish it somewhere the database's administrators cannot rewrite",
    )
    checkpoint.add_argument(
        "--dir", type=Path, metavar="DIR", help="default: LEDGER_CHECKPOINT_DIR (none: print only)"
    )
    checkpoint.set_defaults(run=run_checkpoint)
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


def run_init(settings: Settings, arguments: argparse.Namespace) -> int:
    """Migrate; register the province (HEBEI) and the exchange (EXCHANGE), which every
    instrument and every exchange trade needs; then the first administrator, who creates the
    other principals. Safe to run again: what exists is left as it is."""
    migrate.upgrade(settings.database_url)
    province = Party(PROVINCE, PartyKind.AUTHORITY, arguments.province_name)
    exchange = Party(EXCHANGE, PartyKind.EXCHANGE, arguments.exchange_name)
    try:
        with opened_store(settings) as store:
            registered = parties.bootstrap(store, province, exchange, acting.operator())
            for party in (province, exchange):
                state = "registered" if party in registered else "exists"
                print(f"{party.kind.value} {party.code}: {state}")
            _first_administrator(store, arguments)
    except LedgerError as error:
        return refused(error)
    return 0


def _first_administrator(store: Store, arguments: argparse.Namespace) -> None:
    if access.count_administrators(store):
        print("an administrator exists: administrators create the other principals")
        return
    record, token = access.create_administrator(
        store, arguments.admin_id, arguments.admin_name, acting.operator(), arguments.admin_person
    )
    print(
        "enrolling principals takes a second administrator (another person): "
        "emissions-ledger create-admin --id ID --person PERSON"
    )
    print(
        f"administrator {record.id} created; its token "
        f"(shown once, expires {token.expires_at:%Y-%m-%d}):"
    )
    print(token.secret)


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


def run_seal(settings: Settings, arguments: argparse.Namespace) -> int:
    try:
        with opened_store(settings) as store:
            sealed = checkpoints.seal(
                store, settings.checkpoint_dir, settings.checkpoint_key, backlog=arguments.backlog
            )
    except SealRefused as refusal:
        print(f"refused: {refusal}", file=sys.stderr)
        return 1
    print(f"chained {sealed} entries")
    return 0


def run_checkpoint(settings: Settings, arguments: argparse.Namespace) -> int:
    directory, key = arguments.dir or settings.checkpoint_dir, settings.checkpoint_key
    try:
        with opened_store(settings) as store:
            if directory is None:
                taken = checkpoints.take(store)
            else:
                path, taken = checkpoints.export(store, directory, key)
                print(f"written to {path}", file=sys.stderr)
    except checkpoints.CheckpointRefused as refusal:
        print(f"refused: {refusal}", file=sys.stderr)
        return 1
    print(taken.text(key))
    return 0


def run_verify(settings: Settings, arguments: argparse.Namespace) -> int:
    directory = arguments.checkpoints or settings.checkpoint_dir
    loaded = None if directory is None else checkpoints.load(directory, settings.checkpoint_key)
    with opened_store(settings) as store:
        report = checkpoints.verify(store, loaded)
    if loaded is not None:
        print(f"checkpoints in {directory}: {len(loaded.checkpoints)}")
    for verdict in report.chains:
        print(f"{verdict.chain}: {verdict.verified} links verified")
        broken = verdict.first_break
        if broken is not None:
            print(
                f"{verdict.chain}: first broken link: chain_seq {broken.chain_seq}, record "
                f"{broken.record}: {broken.problem.value} ({broken.detail})"
            )
            print(f"{verdict.chain}: what to do: {broken.action}")
    for violation in report.violations:
        print(f"{violation.rule}: {violation.detail}")
    print("chains and invariants hold" if report.ok else "verification FAILED")
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
        return refused(error)
    print(f"a new token for {arguments.id} (shown once, expires {token.expires_at:%Y-%m-%d}):")
    print(token.secret)
    return 0
