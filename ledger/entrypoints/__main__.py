"""`python -m ledger.entrypoints …`: the `emissions-ledger` command."""

import sys

from ledger.entrypoints.cli import main

sys.exit(main())
