"""Which operation each console page and form performs: the console's table of authority.

Like `api.permissions.ROUTES` for the API: every console route is here as "METHOD /path" with
the operation (`ledger.domain.operations.OPERATIONS`) it performs, or None for the pages anyone
may open (sign-in, the language switch). The console refuses a role the table refuses before it
reads a form (a 403 page, audited); the use cases the page calls check the role again and apply
the principal's scope. The mounted console refuses to start when a route is missing here, and
the console's authorization test is generated from this table.

The dashboard lists, for the signed-in role, every page whose operation the role may perform.
"""

from __future__ import annotations

from api.console.i18n import N_

PREFIX = "/console"

CONSOLE_ROUTES: dict[str, str | None] = {
    "GET /console/sign-in": None,
    "POST /console/sign-in": None,
    "GET /console/language/{language}": None,
    "GET /console/market": None,  # the public market report: it names no party
    "POST /console/sign-out": "me.read",
    "GET /console/": "me.read",
    # An enterprise's pages (a regulator or city sees its parties' through the same pages).
    "GET /console/holdings": "finance.holdings",
    "GET /console/trades": "trades.list",
    "POST /console/trades": "trades.propose",
    "POST /console/trades/{trade_id}/accept": "trades.accept",
    "POST /console/trades/{trade_id}/decline": "trades.decline",
    "POST /console/trades/{trade_id}/rescind": "trades.rescind",
    "POST /console/trades/{trade_id}/record": "trades.record",
    "POST /console/trades/{trade_id}/refuse": "trades.refuse",
    "GET /console/compliance": "compliance.read",
    "POST /console/exports/statement": "finance.statement",  # a download, run as a job
    "GET /console/monitoring": "cems.months",
    "GET /console/monitoring/hours": "cems.hours",
    "GET /console/cems-imports": "cems.import",
    "POST /console/cems-imports": "cems.import",
    # A job's page and an export's file: only the principal that started the job sees it (the
    # operation it performs was checked when it started), so any signed-in principal may ask.
    "GET /console/jobs/{job_id}": "me.read",
    "GET /console/jobs/{job_id}/file": "me.read",
    "GET /console/tax": "tax.returns.list",
    "POST /console/tax/returns": "tax.file",
    # Authorities.
    "GET /console/overview": "finance.supply",
    "GET /console/parties": "parties.list",
    "GET /console/entitlements": "entitlements.list",
    "POST /console/entitlements": "entitlements.confirm",
    "GET /console/approvals": "approvals.list",
    "POST /console/approvals/{request_id}/approve": "approvals.approve",
    "POST /console/approvals/{request_id}/reject": "approvals.reject",
    "GET /console/pledges": "pledges.list",
    "GET /console/reserve": "reserve.operate",  # the form to book one, beside the reserve
    "POST /console/reserve-operations": "reserve.operate",
    # Reserve listings: authorities list and close, enterprises buy and bid, readers look.
    "GET /console/listings": "listings.list",
    "POST /console/listings": "listings.create",
    "GET /console/listings/{listing_id}": "listings.read",
    "POST /console/listings/{listing_id}/accept": "listings.accept",
    "POST /console/listings/{listing_id}/bids": "listings.bid",
    "POST /console/listings/{listing_id}/close": "listings.close",
    "POST /console/pledges/{pledge_id}/release": "pledges.release",
    # Freezing or unfreezing, by the form's `action`: both operations are the authorities'.
    "POST /console/accounts/freeze": "accounts.freeze",
    # Oversight of monitoring (an enterprise sees its own through the same pages).
    "GET /console/exceedances": "cems.months",  # with its `exceeding` filter
    "GET /console/penalty-events": "penalty_events.list",
    "POST /console/penalty-events": "penalty_events.record",
    # Verifiers.
    "GET /console/reports": "reports.list",
    "POST /console/reports": "reports.draft",
    "POST /console/reports/{report_id}/submit": "reports.submit",
    "POST /console/reports/{report_id}/verify": "reports.verify",
    "POST /console/reports/{report_id}/reject": "reports.reject",
    # Finance.
    "GET /console/trial-balance": "finance.trial_balance",
    "POST /console/exports/trial-balance": "finance.trial_balance",
    "GET /console/periods": "periods.list",
    "POST /console/periods/close": "periods.close",
    "POST /console/periods/{label}/reopen": "periods.reopen",
    "POST /console/statement-imports": "statements.import",
    "GET /console/reconciliations/{reconciliation_id}": "reconciliations.read",
    "POST /console/reconciliations/{reconciliation_id}/matches": "reconciliations.match",
    "POST /console/reconciliations/{reconciliation_id}/matches/{match_id}/unmatch": (
        "reconciliations.unmatch"
    ),
    "POST /console/reconciliations/{reconciliation_id}/confirm": "reconciliations.confirm",
    # Administrators.
    "GET /console/principals": "principals.list",
    "POST /console/principals": "principals.create",
    "POST /console/principals/{principal_id}/enrolments": "enrolments.issue",
    "GET /console/principals/{principal_id}": "principals.read",
    "POST /console/principals/{principal_id}/deactivate": "principals.deactivate",
    "POST /console/principals/{principal_id}/activate": "principals.activate",
    "POST /console/tokens/{token_id}/revoke": "tokens.revoke",
}

# The pages a dashboard links to (GET, no path parameter), in the order shown, with their title.
MENU: tuple[tuple[str, str], ...] = (
    ("/console/holdings", N_("Holdings")),
    ("/console/trades", N_("Trade proposals")),
    ("/console/compliance", N_("Compliance")),
    ("/console/monitoring", N_("Monitoring")),
    ("/console/cems-imports", N_("CEMS import")),
    ("/console/tax", N_("Environmental tax")),
    ("/console/overview", N_("Registry overview")),
    ("/console/parties", N_("Enterprises")),
    ("/console/entitlements", N_("Allocations")),
    ("/console/approvals", N_("Approvals")),
    ("/console/pledges", N_("Pledges and freezes")),
    ("/console/reserve", N_("Reserve")),
    ("/console/listings", N_("Reserve listings")),
    ("/console/exceedances", N_("Exceedances of the standard")),
    ("/console/penalty-events", N_("Penalty-basis events")),
    ("/console/reports", N_("Emission reports")),
    ("/console/trial-balance", N_("Trial balance")),
    ("/console/periods", N_("Periods and reconciliation")),
    ("/console/principals", N_("Principals")),
)
