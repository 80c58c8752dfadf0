"""Who may call what: the one table of every endpoint's permission.

Every operation of the API appears here as "METHOD /path" with the roles allowed to call it.
`create_app` refuses to start when a route is missing from the table (or the table names a
route that does not exist), and the permission matrix test (tests/api/test_permission_matrix.py)
is generated from this table: a new endpoint without a line here fails the suite.

The table says *who may call*; *what they may see* is the principal's scope
(`ledger.domain.access.Scope`), applied by the services: an enterprise asking for another
enterprise's account, trade or report gets that resource's 404, never a 403.

`PUBLIC` operations need no token (health, metrics, the anonymised market report).
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
APPROVERS = frozenset({REGULATOR, CITY, FINANCE})
ALL_ROLES = frozenset(Role)


def only(*roles: Role) -> frozenset[Role]:
    return frozenset(roles)


PERMISSIONS: dict[str, frozenset[Role]] = {
    "GET /v1/health": PUBLIC,
    "GET /v1/health/live": PUBLIC,
    "GET /v1/health/ready": PUBLIC,
    "GET /metrics": PUBLIC,
    # Access control: principals and tokens are the administrators' business.
    "GET /v1/me": ALL_ROLES,
    "POST /v1/principals": only(ADMINISTRATOR),
    "GET /v1/principals": only(ADMINISTRATOR),
    "GET /v1/principals/{principal_id}": only(ADMINISTRATOR),
    "POST /v1/principals/{principal_id}/tokens": only(ADMINISTRATOR),
    "POST /v1/principals/{principal_id}/deactivate": only(ADMINISTRATOR),
    "POST /v1/principals/{principal_id}/activate": only(ADMINISTRATOR),
    "POST /v1/tokens/{token_id}/revoke": only(ADMINISTRATOR),
    "GET /v1/audit-log": only(ADMINISTRATOR, REGULATOR, FINANCE),
    # Four-eyes requests: decided within the requesting authority.
    "GET /v1/approvals": APPROVERS,
    "GET /v1/approvals/{request_id}": APPROVERS,
    "POST /v1/approvals/{request_id}/approve": APPROVERS,
    "POST /v1/approvals/{request_id}/reject": APPROVERS,
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
    # Finance (issue 6): reports read by oversight (party statements by the party's readers);
    # finance staff alone close periods, request reopening and reconcile; the market is public.
    "GET /v1/finance/trial-balance": OVERSIGHT,
    "GET /v1/finance/supply": OVERSIGHT,
    "GET /v1/finance/parties/{code}/holdings": READERS,
    "GET /v1/finance/parties/{code}/statement": READERS,
    "GET /v1/finance/trades": OVERSIGHT,
    "GET /v1/finance/tax-returns": OVERSIGHT,
    "GET /v1/market-report": PUBLIC,
    "GET /v1/periods": OVERSIGHT,
    "GET /v1/periods/{label}": OVERSIGHT,
    "POST /v1/periods/{label}/close": only(FINANCE),
    "POST /v1/periods/{label}/reopen": only(FINANCE),
    "POST /v1/statement-imports": only(FINANCE),
    "POST /v1/reconciliations": only(FINANCE),
    "GET /v1/reconciliations/{reconciliation_id}": OVERSIGHT,
    "POST /v1/reconciliations/{reconciliation_id}/matches": only(FINANCE),
    "POST /v1/reconciliations/{reconciliation_id}/matches/{match_id}/unmatch": only(FINANCE),
    "POST /v1/reconciliations/{reconciliation_id}/confirm": only(FINANCE),
    # Monitoring and emission reports (issue 4): enterprises import and submit for their own
    # outlets; verifiers verify or reject (never their own submission); regulators invalidate.
    "POST /v1/cems/imports": only(ENTERPRISE, REGULATOR),
    "POST /v1/cems/records": only(ENTERPRISE, REGULATOR),
    "GET /v1/cems/months": READERS,
    "POST /v1/reports": only(ENTERPRISE, REGULATOR),
    "GET /v1/reports": READERS,
    "GET /v1/reports/{report_id}": READERS,
    "POST /v1/reports/{report_id}/submit": only(ENTERPRISE),
    "POST /v1/reports/{report_id}/verify": only(VERIFIER),
    "POST /v1/reports/{report_id}/reject": only(VERIFIER),
    "POST /v1/reports/{report_id}/corrections": only(ENTERPRISE, REGULATOR),
    "POST /v1/reports/{report_id}/invalidate": only(REGULATOR),
    # Environmental tax and incentives (issue 4): enterprises file their own returns; the
    # province books incentives, credits, clawbacks and verified reductions.
    "GET /v1/tax/parties/{code}/quarters/{quarter}": READERS,
    "POST /v1/tax/returns": only(ENTERPRISE, REGULATOR),
    "GET /v1/tax/returns": READERS,
    "GET /v1/tax/returns/{return_id}": READERS,
    "GET /v1/tax/policy": READERS,
    "PUT /v1/tax/policy": only(REGULATOR),
    "GET /v1/incentives": READERS,
    "GET /v1/incentives/{incentive_id}": READERS,
    "POST /v1/incentives": only(REGULATOR),
    "POST /v1/equipment-credits": only(REGULATOR),
    "POST /v1/equipment-credits/{equipment_id}/clawback": only(REGULATOR),
    "GET /v1/parties/{code}/equipment-credit-schedule": READERS,
    "POST /v1/reductions": only(REGULATOR),
    "GET /v1/reductions": READERS,
    "GET /v1/rights-obligations": READERS,
}
