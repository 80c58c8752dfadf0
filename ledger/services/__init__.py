"""Use cases of the ledger: one function each, one unit of work, one commit."""
