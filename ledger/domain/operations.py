"""Who may do what: every use case's operation name and the roles that may perform it.

This is the one permission table. The services check it on every call, whoever the caller is
(HTTP, CLI, demo loader, console); the API maps each endpoint to one of these names
(`api.permissions`) and refuses a wrong role before it reads the body, from the same table.
What a permitted role then *sees* is its scope (`access.Scope`), applied by the services.

`PUBLIC` operations need no principal (the anonymised market report, redeeming an enrolment
code). An operation's name is also the `action` of its audit line.
"""

from __future__ import annotations

from typing import Final

from ledger.domain.access import Role

REGULATOR = Role.REGULATOR
CITY = Role.CITY_AUTHORITY
ENTERPRISE = Role.ENTERPRISE
VERIFIER = Role.VERIFIER
FINANCE = Role.FINANCE
ADMINISTRATOR = Role.ADMINISTRATOR
CEMS_NETWORK = Role.CEMS_NETWORK

PUBLIC: Final[frozenset[Role]] = frozenset()
ALL_ROLES: Final = frozenset(Role)
AUTHORITIES: Final = frozenset({REGULATOR, CITY})
# Everyone with a stake in registry data; city and enterprise see their own scope only.
READERS: Final = frozenset({REGULATOR, CITY, ENTERPRISE, VERIFIER, FINANCE})
OVERSIGHT: Final = frozenset({REGULATOR, FINANCE})
# Who takes part in a trade: an enterprise's (or the exchange's) representative, and an
# authority selling its reserve's rights (ledger.services.trading checks it is the seller).
TRADERS: Final = frozenset({ENTERPRISE, CITY, REGULATOR})
# Four-eyes requests are decided within the requesting authority (administrators decide the
# credentials of privileged principals).
APPROVERS: Final = frozenset({REGULATOR, CITY, FINANCE, ADMINISTRATOR})


def only(*roles: Role) -> frozenset[Role]:
    return frozenset(roles)


OPERATIONS: Final[dict[str, frozenset[Role]]] = {
    # Access control: principals, credentials, four-eyes requests and the audit log.
    "me.read": ALL_ROLES,
    "principals.create": only(ADMINISTRATOR),
    "principals.list": only(ADMINISTRATOR),
    "principals.read": only(ADMINISTRATOR),
    "principals.deactivate": only(ADMINISTRATOR),
    "principals.activate": only(ADMINISTRATOR),
    "enrolments.issue": only(ADMINISTRATOR),
    "enrolments.redeem": PUBLIC,
    "tokens.issue_own": ALL_ROLES,
    "tokens.revoke": ALL_ROLES,  # administrators any token; everyone else their own
    "audit.list": only(ADMINISTRATOR, REGULATOR, FINANCE),
    "approvals.list": APPROVERS,
    "approvals.read": APPROVERS,
    "approvals.approve": APPROVERS,
    "approvals.reject": APPROVERS,
    # Instruments and accounts (the chart of the ledger).
    "instruments.list": READERS,
    "instruments.read": READERS,
    "instruments.register": only(REGULATOR),
    "accounts.open": only(REGULATOR),
    "accounts.list": READERS,
    "accounts.read": READERS,
    "accounts.freeze": AUTHORITIES,
    "accounts.unfreeze": AUTHORITIES,
    "accounts.close": only(REGULATOR),
    # The raw journal: adjustments only (see ledger.services.adjustments).
    "entries.post": only(REGULATOR),
    "entries.read": OVERSIGHT,
    "entries.reverse": only(REGULATOR),
    "pending_entries.place": only(REGULATOR),
    "pending_entries.post": only(REGULATOR),
    "pending_entries.void": only(REGULATOR),
    "pending_entries.expire": only(REGULATOR),
    "batches.post": only(REGULATOR),
    "bulk.post": only(REGULATOR),
    # Balances, statements and the ledger's own checks.
    "balances.read": READERS,
    "statements.read": READERS,
    "trial_balance.read": OVERSIGHT,
    "invariants.check": OVERSIGHT,
    "chain.verify": only(REGULATOR, FINANCE, ADMINISTRATOR),
    # Parties, outlets, cities and policy.
    "parties.register": only(REGULATOR),
    "parties.list": READERS,
    "parties.read": READERS,
    "outlets.add": AUTHORITIES,
    "outlets.list": READERS,
    "permits.set": only(REGULATOR),
    "permits.list": READERS,
    "penalty_events.record": only(REGULATOR),
    "penalty_events.list": READERS,
    "cities.set": only(REGULATOR),
    "cities.decide": only(REGULATOR),
    "cities.read": READERS,
    "policy.read": READERS,
    "policy.set": only(REGULATOR),
    # Rights: allocations, pledges, reserves, issuance.
    "entitlements.confirm": AUTHORITIES,
    "entitlements.list": READERS,
    "pledges.create": AUTHORITIES,
    "pledges.list": READERS,
    "pledges.release": AUTHORITIES,
    "reserve.operate": AUTHORITIES,
    "blocks.set": AUTHORITIES,
    "blocks.lift": AUTHORITIES,
    "blocks.list": READERS,
    "deposits.record": only(REGULATOR),
    "carbon.issue": only(REGULATOR),
    "vintages.expire": only(REGULATOR),
    # Trades: enterprises (and the exchange) propose and answer; a city or the province does too
    # as the seller of its reserve's rights; an authority records or refuses.
    "trades.propose": TRADERS,
    "trades.list": READERS,
    "trades.read": READERS,
    "trades.accept": TRADERS,
    "trades.decline": TRADERS,
    "trades.rescind": TRADERS,
    "trades.record": AUTHORITIES,
    "trades.refuse": AUTHORITIES,
    "trades.expire": AUTHORITIES,
    # Reserve listings: an authority lists and closes; enterprises accept or bid; every reader
    # sees the offers.
    "listings.create": AUTHORITIES,
    "listings.list": READERS,
    "listings.read": READERS,
    "listings.accept": only(ENTERPRISE),
    "listings.bid": only(ENTERPRISE),
    "listings.close": AUTHORITIES,
    # Compliance.
    "obligations.set": only(REGULATOR),
    "obligations.list": READERS,
    "obligations.surrender": only(ENTERPRISE, REGULATOR),
    "obligations.status": READERS,
    "obligations.close": only(REGULATOR),
    # Whoever may pay a rights penalty pays a shortfall penalty (the same kind of payment).
    "obligations.pay_penalty": only(ENTERPRISE, REGULATOR, FINANCE),
    "deductions.list": READERS,
    "equipment_credits.book_year": only(REGULATOR),
    "equipment_credits.years": READERS,
    "retrofit_projects.register": only(REGULATOR),
    "retrofit_projects.read": READERS,
    "retrofit_projects.book_year": only(REGULATOR),
    "rights_penalties.book": only(REGULATOR),
    "rights_penalties.list": READERS,
    "rights_penalties.read": READERS,
    "rights_penalties.pay": only(ENTERPRISE, REGULATOR, FINANCE),
    "compliance.read": READERS,
    # Finance: reports read by oversight (a party's by its readers); finance staff alone close
    # periods, request reopening and reconcile; the market report is public.
    "finance.trial_balance": OVERSIGHT,
    "finance.supply": OVERSIGHT,
    "finance.holdings": READERS,
    "finance.statement": READERS,
    "finance.trades": OVERSIGHT,
    "finance.tax_returns": OVERSIGHT,
    "market.report": PUBLIC,
    "periods.list": OVERSIGHT,
    "periods.read": OVERSIGHT,
    "periods.close": only(FINANCE),
    "periods.reopen": only(FINANCE),
    "statements.import": only(FINANCE),
    "reconciliations.start": only(FINANCE),
    "reconciliations.read": OVERSIGHT,
    "reconciliations.match": only(FINANCE),
    "reconciliations.unmatch": only(FINANCE),
    "reconciliations.confirm": only(FINANCE),
    # Monitoring and emission reports: CEMS data come from the monitoring network (or the
    # regulator), never from the enterprise (rules.md §7.4); enterprises draft and submit their
    # reports; verifiers verify or reject (never their own submission); regulators invalidate.
    "cems.import": only(CEMS_NETWORK, REGULATOR),
    "cems.months": READERS | {CEMS_NETWORK},
    "cems.hours": READERS,  # one month of an outlet hour by hour, in the reader's scope
    "cems.recompute": only(REGULATOR),  # after a rule change: every stored month, again
    "reports.draft": only(ENTERPRISE, REGULATOR),
    "reports.list": READERS,
    "reports.read": READERS,
    # A regulator submits the version it drafted (its lines govern, rules.md §7.4): the
    # enterprise cannot hold the regulator's data back by never submitting them.
    "reports.submit": only(ENTERPRISE, REGULATOR),
    "reports.verify": only(VERIFIER),
    "reports.reject": only(VERIFIER),
    "reports.correct": only(ENTERPRISE, REGULATOR),
    "reports.invalidate": only(REGULATOR),
    # Environmental tax and incentives: enterprises file their own returns; the province books
    # incentives, credits, clawbacks and verified reductions.
    "tax.quarter": READERS,
    "tax.file": only(ENTERPRISE, REGULATOR),
    "tax.returns.list": READERS,
    "tax.returns.read": READERS,
    "tax.policy.read": READERS,
    "tax.policy.set": only(REGULATOR),
    # The tax tables (rates, equivalent values, tier memberships) are the rules: every reader
    # sees them; an administrator records an entry, with four eyes.
    "tax.tables.list": READERS,
    "tax.tables.schedule": READERS,
    "tax.tables.set": only(ADMINISTRATOR),
    "tax.annual": READERS,
    "incentives.list": READERS,
    "incentives.read": READERS,
    "incentives.book": only(REGULATOR),
    "equipment_credits.grant": only(REGULATOR),
    "equipment_credits.claw_back": only(REGULATOR),
    "equipment_credits.schedule": READERS,
    "reductions.verify": only(REGULATOR),
    "reductions.list": READERS,
    "rights_obligations.read": READERS,
}


def may(role: Role | None, operation: str) -> bool:
    """Whether `role` may perform `operation` (None: an anonymous caller, public ones only)."""
    roles = OPERATIONS[operation]
    return not roles or (role is not None and role in roles)
