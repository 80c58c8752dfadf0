"""Who runs a command of `emissions-ledger`: the principal whose token is in `LEDGER_TOKEN`.

A command that acts in the registry is performed by a principal, like an HTTP request: it passes
the same authority checks, scope, four-eyes and audit in the services. The shell gives no
authority of its own, except the operator's bootstrap commands (`create-admin`,
`recover-admin`, `init`, `demo`), which are audited as the operator's.
"""

from __future__ import annotations

import getpass
import os
import shlex

from ledger.domain.access import Actor, Unauthenticated
from ledger.domain.ports import UnitOfWorkFactory
from ledger.services import access

TOKEN_VARIABLE = "LEDGER_TOKEN"  # noqa: S105 - the variable's name, not a token


def actor_from_environment(store: UnitOfWorkFactory, argv: list[str]) -> Actor:
    """The actor of a command line: the principal of `LEDGER_TOKEN`, or `Unauthenticated`."""
    presented = os.environ.get(TOKEN_VARIABLE, "").strip()
    if not presented:
        raise Unauthenticated(f"set {TOKEN_VARIABLE} to your bearer token to run this command")
    principal = access.authenticate(store, presented)
    return Actor(principal, target="cli: " + shlex.join(argv)[:380])


def operator() -> str:
    """The operator at the shell, as the audit log names them."""
    try:
        return f"shell:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in a container without a passwd entry
        return "shell"
