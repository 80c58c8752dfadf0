"""SQLAlchemy 2 storage of the ledger: tables, repositories, the unit of work, engine factories.

Nothing here runs at import; the API's composition root builds a `Store` from settings.
"""
