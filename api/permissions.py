"""Who may call what: the one table of every endpoint's permission.

Every operation of the API appears here as "METHOD /path" with the roles allowed to call it.
`create_app` refuses to start when a route is missing from the table (or the table names a
route that does not exist), and the permission matrix test (tests/api/test_permission_matrix.py)
is generated from this table: a new endpoint without a line here fails the suite.

The table says *who may call*; *what they may see* is the principal's scope
(`ledger.domain.access.Scope`), applied by the services: an enterprise asking for another
enterprise's account, trade or report gets that resource's 404, never a 403.

`PUBLIC` operations need no token (health, the anonymised market report).
"""

from __future__ import annotations

from ledger.domain.access import Role

REGULATOR = Role.REGULATOR
CITY = Role.CITY_AUTHORITY
ENTERPRISE = Role.ENTERPRISE
VERIFIER = Role.VERIFIER
FINANCE = Role.FINANCE
ADMINISTRATOR = Role.ADMINISTRATOR

PUBLIC: frozenset[Role] = frozenset()
AUTHORITIES = frozenset({REGULATOR, CITY})
# Everyone with a stake in registry data; city and enterprise see their own scope only.
READERS = frozenset({REGULATOR, CITY, ENTERPRISE, VERIFIER, FINANCE})
OVERSIGHT = frozenset({REGULATOR, FINANCE})


def only(*roles: Role) -> frozenset[Role]:
    return frozenset(roles)


PERMISSIONS: dict[str, frozenset[Role]] = {
    "GET /v1/health": PUBLIC,
    # Instruments and accounts (the chart of the ledger).
    "GET /v1/instruments": READERS,
    "POST /v1/instruments": only(REGULATOR),
    "GET /v1/instruments/{code}": READERS,
    "POST /v1/accounts": only(REGULATOR),
    "GET /v1/accounts": READERS,
    "GET /v1/accounts/{code}": READERS,
    "POST /v1/accounts/{code}/freeze": AUTHORITIES,
    "POST /v1/accounts/{code}/unfreeze": AUTHORITIES,
    "POST /v1/accounts/{code}/close": only(REGULATOR),
    # The raw journal: provincial operations and settlement services only.
    "POST /v1/entries": only(REGULATOR),
    "GET /v1/entries/{entry_id}": OVERSIGHT,
    "POST /v1/entries/{entry_id}/reverse": only(REGULATOR),
    "POST /v1/pending-entries": only(REGULATOR),
    "POST /v1/pending-entries/{entry_id}/post": only(REGULATOR),
    "POST /v1/pending-entries/{entry_id}/void": only(REGULATOR),
    "POST /v1/pending-entries/expire": only(REGULATOR),
    "POST /v1/batches": only(REGULATOR),
    "POST /v1/bulk": only(REGULATOR),
    # Balances and statements (scoped to the account's party).
    "GET /v1/accounts/{code}/balances": READERS,
    "GET /v1/accounts/{code}/balances/{instrument}": READERS,
    "GET /v1/accounts/{code}/statement": READERS,
    "GET /v1/trial-balance": OVERSIGHT,
    "GET /v1/invariants": OVERSIGHT,
    "GET /v1/verify": only(REGULATOR, FINANCE, ADMINISTRATOR),
    # Parties, outlets, cities and policy.
    "POST /v1/parties": only(REGULATOR),
    "GET /v1/parties": READERS,
    "GET /v1/parties/{code}": READERS,
    "POST /v1/parties/{code}/outlets": AUTHORITIES,
    "GET /v1/outlets": READERS,
    "PUT /v1/cities/{name}": only(REGULATOR),
    "GET /v1/policy": READERS,
    "PUT /v1/policy": only(REGULATOR),
    # Rights: allocations, pledges, reserves, issuance.
    "POST /v1/entitlements": AUTHORITIES,
    "GET /v1/entitlements": READERS,
    "POST /v1/pledges": AUTHORITIES,
    "GET /v1/pledges": READERS,
    "POST /v1/pledges/{pledge_id}/release": AUTHORITIES,
    "POST /v1/reserve-operations": AUTHORITIES,
    "POST /v1/deposits": only(REGULATOR),
    "POST /v1/carbon-issuances": only(REGULATOR),
    "POST /v1/vintages/{family}/{year}/expire": only(REGULATOR),
    # Trades: enterprises propose and answer; the authority records or refuses.
    "POST /v1/trades": only(ENTERPRISE),
    "GET /v1/trades": READERS,
    "GET /v1/trades/{trade_id}": READERS,
    "POST /v1/trades/{trade_id}/accept": only(ENTERPRISE),
    "POST /v1/trades/{trade_id}/decline": only(ENTERPRISE),
    "POST /v1/trades/{trade_id}/rescind": only(ENTERPRISE),
    "POST /v1/trades/{trade_id}/record": AUTHORITIES,
    "POST /v1/trades/{trade_id}/refuse": AUTHORITIES,
    "POST /v1/trades/{trade_id}/expire": AUTHORITIES,
    # Compliance.
    "POST /v1/obligations": only(REGULATOR),
    "GET /v1/obligations": READERS,
    "POST /v1/obligations/{obligation_id}/surrenders": only(ENTERPRISE, REGULATOR),
    "GET /v1/obligations/{obligation_id}/status": READERS,
    "POST /v1/obligations/{obligation_id}/close": only(REGULATOR),
    "GET /v1/parties/{code}/compliance": READERS,
}
