"""What the command groups share: the store a command opens, and how a refusal is printed."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ledger.domain.errors import LedgerError
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.settings import Settings

Run = Callable[[Settings, argparse.Namespace], int]  # what `set_defaults(run=...)` names
StoreAction = Callable[[Store, argparse.Namespace], int]


@contextmanager
def opened_store(settings: Settings) -> Iterator[Store]:
    """A store over the configured database, disposed of when the command ends."""
    engine = create_ledger_engine(
        settings.database_url, sqlite_synchronous=settings.sqlite_synchronous
    )
    store = Store(engine)
    try:
        yield store
    finally:
        store.dispose()


def refused(error: LedgerError) -> int:
    """Print the ledger's refusal on standard error; exit status 1."""
    print(f"refused ({error.code}): {error.detail}", file=sys.stderr)
    return 1


def with_store(action: StoreAction) -> Run:
    """The command that runs `action` on an opened store; a ledger refusal exits 1."""

    def run(settings: Settings, arguments: argparse.Namespace) -> int:
        try:
            with opened_store(settings) as store:
                return action(store, arguments)
        except LedgerError as error:
            return refused(error)

    return run
