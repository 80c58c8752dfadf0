"""The `emissions-ledger` command: one parser, the sub-commands of every command group.

Each group's `add_commands` registers its sub-commands with `set_defaults(run=...)`; `main`
parses, reads the settings once (exit 2 naming every wrong variable), configures logging and
calls that function with the settings.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from ledger import logs
from ledger.entrypoints import cems_generator, core, demo, finance, monitoring, server, sweeper, tax
from ledger.settings import Settings, SettingsError

Run = Callable[[Settings, argparse.Namespace], int]
GROUPS = (server, sweeper, core, demo, finance, monitoring, cems_generator, tax)


def parser() -> argparse.ArgumentParser:
    """The whole command line: every group's sub-commands."""
    top = argparse.ArgumentParser(
        prog="emissions-ledger",
        description="Emissions rights ledger. The database is LEDGER_DATABASE_URL "
        "(default: sqlite:///emissions-ledger.db in the working directory).",
    )
    commands = top.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.add_commands(commands)
    return top


def main(argv: list[str] | None = None) -> int:
    """Run one sub-command; its exit status."""
    arguments = parser().parse_args(argv)
    try:
        settings = Settings.from_environment()
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    logs.configure(settings)
    run: Run = arguments.run
    return run(settings, arguments)


if __name__ == "__main__":
    sys.exit(main())
