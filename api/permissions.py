"""Which use case each endpoint performs: the API's one table of authority.

Every endpoint appears here as "METHOD /path" with the name of the operation it performs; the
roles that may perform it are in the core's table (`ledger.domain.operations.OPERATIONS`), which
the services check on every call whoever calls them. The API checks the same table first, so a
wrong role gets its 403 before the body is read. `create_app` refuses to start when a route is
missing here (or this table names a route that does not exist), and the permission matrix test
(tests/api/test_permission_matrix.py) is generated from it: a new endpoint without a line here
fails the suite.

`None` marks an endpoint that performs no use case of the registry and needs no token (health,
metrics).
What a permitted caller then *sees* is its principal's scope, applied by the services: an
enterprise asking for another enterprise's account, trade or report gets that resource's 404.
"""

from __future__ import annotations

from ledger.domain.access import Role
from ledger.domain.operations import OPERATIONS, PUBLIC

ROUTES: dict[str, str | None] = {
    "GET /v1/health": None,
    "GET /v1/health/live": None,
    "GET /v1/health/ready": None,
    "GET /metrics": None,
    "GET /v1/me": "me.read",
    "POST /v1/principals": "principals.create",
    "GET /v1/principals": "principals.list",
    "GET /v1/principals/{principal_id}": "principals.read",
    "POST /v1/principals/{principal_id}/enrolments": "enrolments.issue",
    "POST /v1/enrolments/redeem": "enrolments.redeem",
    "POST /v1/me/tokens": "tokens.issue_own",
    "POST /v1/principals/{principal_id}/deactivate": "principals.deactivate",
    "POST /v1/principals/{principal_id}/activate": "principals.activate",
    "POST /v1/tokens/{token_id}/revoke": "tokens.revoke",
    "GET /v1/audit-log": "audit.list",
    "GET /v1/approvals": "approvals.list",
    "GET /v1/approvals/{request_id}": "approvals.read",
    "POST /v1/approvals/{request_id}/approve": "approvals.approve",
    "POST /v1/approvals/{request_id}/reject": "approvals.reject",
    "GET /v1/instruments": "instruments.list",
    "POST /v1/instruments": "instruments.register",
    "GET /v1/instruments/{code}": "instruments.read",
    "POST /v1/accounts": "accounts.open",
    "GET /v1/accounts": "accounts.list",
    "GET /v1/accounts/{code}": "accounts.read",
    "POST /v1/accounts/{code}/freeze": "accounts.freeze",
    "POST /v1/accounts/{code}/unfreeze": "accounts.unfreeze",
    "POST /v1/accounts/{code}/close": "accounts.close",
    "POST /v1/entries": "entries.post",
    "GET /v1/entries/{entry_id}": "entries.read",
    "POST /v1/entries/{entry_id}/reverse": "entries.reverse",
    "POST /v1/pending-entries": "pending_entries.place",
    "POST /v1/pending-entries/{entry_id}/post": "pending_entries.post",
    "POST /v1/pending-entries/{entry_id}/void": "pending_entries.void",
    "POST /v1/pending-entries/expire": "pending_entries.expire",
    "POST /v1/batches": "batches.post",
    "POST /v1/bulk": "bulk.post",
    "GET /v1/accounts/{code}/balances": "balances.read",
    "GET /v1/accounts/{code}/balances/{instrument}": "balances.read",
    "GET /v1/accounts/{code}/statement": "statements.read",
    "GET /v1/trial-balance": "trial_balance.read",
    "GET /v1/invariants": "invariants.check",
    "GET /v1/verify": "chain.verify",
    "POST /v1/parties": "parties.register",
    "GET /v1/parties": "parties.list",
    "GET /v1/parties/{code}": "parties.read",
    "POST /v1/parties/{code}/outlets": "outlets.add",
    "GET /v1/outlets": "outlets.list",
    "PUT /v1/cities/{name}": "cities.set",
    "PUT /v1/cities/{name}/years/{year}": "cities.decide",
    "GET /v1/cities/{name}": "cities.read",
    "GET /v1/policy": "policy.read",
    "PUT /v1/policy": "policy.set",
    "POST /v1/entitlements": "entitlements.confirm",
    "GET /v1/entitlements": "entitlements.list",
    "POST /v1/pledges": "pledges.create",
    "GET /v1/pledges": "pledges.list",
    "POST /v1/pledges/{pledge_id}/release": "pledges.release",
    "POST /v1/reserve-operations": "reserve.operate",
    "POST /v1/deposits": "deposits.record",
    "POST /v1/carbon-issuances": "carbon.issue",
    "POST /v1/vintages/{family}/{year}/expire": "vintages.expire",
    "POST /v1/trades": "trades.propose",
    "GET /v1/trades": "trades.list",
    "GET /v1/trades/{trade_id}": "trades.read",
    "POST /v1/trades/{trade_id}/accept": "trades.accept",
    "POST /v1/trades/{trade_id}/decline": "trades.decline",
    "POST /v1/trades/{trade_id}/rescind": "trades.rescind",
    "POST /v1/trades/{trade_id}/record": "trades.record",
    "POST /v1/trades/{trade_id}/refuse": "trades.refuse",
    "POST /v1/trades/{trade_id}/expire": "trades.expire",
    "POST /v1/obligations": "obligations.set",
    "GET /v1/obligations": "obligations.list",
    "POST /v1/obligations/{obligation_id}/surrenders": "obligations.surrender",
    "GET /v1/obligations/{obligation_id}/status": "obligations.status",
    "POST /v1/obligations/{obligation_id}/close": "obligations.close",
    "GET /v1/carbon-deductions": "deductions.list",
    "POST /v1/equipment-credit-years": "equipment_credits.book_year",
    "GET /v1/parties/{code}/equipment-credit-years": "equipment_credits.years",
    "POST /v1/retrofit-projects": "retrofit_projects.register",
    "GET /v1/retrofit-projects/{project_id}": "retrofit_projects.read",
    "POST /v1/retrofit-projects/{project_id}/years": "retrofit_projects.book_year",
    "POST /v1/rights-penalties": "rights_penalties.book",
    "GET /v1/rights-penalties": "rights_penalties.list",
    "GET /v1/rights-penalties/{penalty_id}": "rights_penalties.read",
    "POST /v1/rights-penalties/{penalty_id}/payments": "rights_penalties.pay",
    "GET /v1/parties/{code}/compliance": "compliance.read",
    "GET /v1/finance/trial-balance": "finance.trial_balance",
    "GET /v1/finance/supply": "finance.supply",
    "GET /v1/finance/parties/{code}/holdings": "finance.holdings",
    "GET /v1/finance/parties/{code}/statement": "finance.statement",
    "GET /v1/finance/trades": "finance.trades",
    "GET /v1/finance/tax-returns": "finance.tax_returns",
    "GET /v1/market-report": "market.report",
    "GET /v1/periods": "periods.list",
    "GET /v1/periods/{label}": "periods.read",
    "POST /v1/periods/{label}/close": "periods.close",
    "POST /v1/periods/{label}/reopen": "periods.reopen",
    "POST /v1/statement-imports": "statements.import",
    "POST /v1/reconciliations": "reconciliations.start",
    "GET /v1/reconciliations/{reconciliation_id}": "reconciliations.read",
    "POST /v1/reconciliations/{reconciliation_id}/matches": "reconciliations.match",
    "POST /v1/reconciliations/{reconciliation_id}/matches/{match_id}/unmatch": (
        "reconciliations.unmatch"
    ),
    "POST /v1/reconciliations/{reconciliation_id}/confirm": "reconciliations.confirm",
    "POST /v1/cems/imports": "cems.import",
    "POST /v1/cems/records": "cems.import",
    "GET /v1/cems/months": "cems.months",
    "POST /v1/reports": "reports.draft",
    "GET /v1/reports": "reports.list",
    "GET /v1/reports/{report_id}": "reports.read",
    "POST /v1/reports/{report_id}/submit": "reports.submit",
    "POST /v1/reports/{report_id}/verify": "reports.verify",
    "POST /v1/reports/{report_id}/reject": "reports.reject",
    "POST /v1/reports/{report_id}/corrections": "reports.correct",
    "POST /v1/reports/{report_id}/invalidate": "reports.invalidate",
    "GET /v1/tax/parties/{code}/quarters/{quarter}": "tax.quarter",
    "POST /v1/tax/returns": "tax.file",
    "GET /v1/tax/returns": "tax.returns.list",
    "GET /v1/tax/returns/{return_id}": "tax.returns.read",
    "GET /v1/tax/policy": "tax.policy.read",
    "PUT /v1/tax/policy": "tax.policy.set",
    "GET /v1/tax/parties/{code}/years/{year}": "tax.annual",
    "GET /v1/tax/parties/{code}/schedule": "tax.tables.schedule",
    "GET /v1/tax/tables": "tax.tables.list",
    "POST /v1/tax/tables": "tax.tables.set",
    "GET /v1/incentives": "incentives.list",
    "GET /v1/incentives/{incentive_id}": "incentives.read",
    "POST /v1/incentives": "incentives.book",
    "POST /v1/equipment-credits": "equipment_credits.grant",
    "POST /v1/equipment-credits/{equipment_id}/clawback": "equipment_credits.claw_back",
    "GET /v1/parties/{code}/equipment-credit-schedule": "equipment_credits.schedule",
    "POST /v1/reductions": "reductions.verify",
    "GET /v1/reductions": "reductions.list",
    "GET /v1/rights-obligations": "rights_obligations.read",
}


def roles_of(endpoint: str) -> frozenset[Role]:
    """The roles that may call `endpoint` (empty: public)."""
    operation = ROUTES[endpoint]
    return PUBLIC if operation is None else OPERATIONS[operation]


PERMISSIONS: dict[str, frozenset[Role]] = {endpoint: roles_of(endpoint) for endpoint in ROUTES}
