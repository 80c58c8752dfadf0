"""Benchmarks of the ledger against raw-driver baselines on the same migrated schema.

`python -m bench.transfers` measures transfers per second through the service layer
(`ledger.services.journal`) beside raw psycopg 3 / sqlite3 doing the equivalent SQL, and the
latency of as-of balance queries over a million postings. Results are printed and written to
`bench/results/latest.txt` (ignored by git).
"""
