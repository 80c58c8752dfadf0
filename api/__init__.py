"""HTTP API of the ledger (FastAPI): schemas, one error table, routers per resource."""
