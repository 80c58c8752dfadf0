"""Emissions rights trading and incentive ledger: a double-entry registry for Hebei."""
