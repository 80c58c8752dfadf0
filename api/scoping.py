"""What a caller may see: the scope of its principal applied to the records a handler returns.

An enterprise sees its own records, a city authority the records of its city's parties, every
other role everything. Out of scope is *not found*: the handler raises the very error an
unknown id gets, so a 404 never tells a caller that another enterprise's record exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends

from api.auth import Caller
from api.dependencies import Store
from ledger.domain.access import Principal
from ledger.domain.errors import LedgerError
from ledger.domain.ports import UnitOfWorkFactory
from ledger.services import access


class Viewer:
    """One request's view: the caller's scope, with the parties' cities looked up once."""

    def __init__(self, store: UnitOfWorkFactory, caller: Principal) -> None:
        self._store = store
        self.scope = caller.scope
        self._cities: dict[str, str | None] = {}

    def sees(self, *parties: str | None) -> bool:
        """Whether a record of these parties (any one suffices, e.g. seller or buyer) is
        visible."""
        if self.scope.unlimited:
            return True
        if self.scope.party is not None:  # a party's own records: no city to look up
            return self.scope.party in parties
        return any(
            party is not None and self.scope.sees(party, self._city(party)) for party in parties
        )

    def require(self, error: Callable[[str], LedgerError], what: str, *parties: str | None) -> None:
        """Raise `error` (the record's not-found error) unless the record is visible."""
        if not self.sees(*parties):
            raise error(f"{what} not found")

    def party_filter(self, requested: str | None) -> str | None:
        """The party filter of a listing: an enterprise always lists its own records."""
        if self.scope.party is not None:
            return self.scope.party
        return requested

    def excludes(self, requested: str | None) -> bool:
        """A listing filtered to a party the caller cannot see is empty."""
        return requested is not None and not self.sees(requested)

    def _city(self, party: str) -> str | None:
        if party not in self._cities:
            self._cities[party] = access.city_of(self._store, party)
        return self._cities[party]


def _viewer(store: Store, caller: Caller) -> Viewer:
    return Viewer(store, caller)


View = Annotated[Viewer, Depends(_viewer)]
