"""Pure domain model of the ledger: instruments, accounts, entries, balances and their rules.

Imports nothing but the standard library and py-moneyed, so every rule here can be tested
without a database or a web framework.
"""
