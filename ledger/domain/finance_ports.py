"""What the finance use cases need from storage (`UnitOfWork.finance`), as a protocol."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol

from ledger.domain.access import Scope
from ledger.domain.finance import AccountNet, MarketTrade, MovementLine, PeriodRecord
from ledger.domain.reconciliation import (
    LedgerItem,
    Match,
    MatchRecord,
    Reconciliation,
    StatementImport,
    StatementLine,
)
from ledger.domain.registry import Trade


class FinanceRepository(Protocol):
    """Periods, statements and reconciliations, and the report queries."""

    # -- periods
    def closed_period_among(self, moments: Sequence[datetime]) -> str | None:
        """The label of a closed period containing any of `moments`, if there is one."""
        ...

    def found_open(self, moments: Sequence[datetime]) -> None:
        """`moments` are in no closed period: the caller asked in this transaction, in a read of
        its own (`RegistryRepository.transfer_rules`, `proposal_context`); `closed_period_among`
        asks no more."""
        ...

    def lock_journal_for_close(self) -> None:
        """Wait for every transaction writing entries; hold new ones until this one ends."""
        ...

    def get_period(self, label: str, *, lock: bool = False) -> PeriodRecord | None: ...
    def save_period(self, record: PeriodRecord) -> None: ...
    def add_period_event(
        self, label: str, action: str, actor: str, at: datetime, reason: str
    ) -> None: ...
    def list_periods(self) -> list[PeriodRecord]: ...
    def count_entries_between(self, starts_at: datetime, ends_at: datetime) -> int: ...

    # -- reports
    def account_nets(
        self,
        instrument_code: str | None,
        party: str | None,
        before: datetime,
        axis: str,
        *,
        scope: Scope = ...,
    ) -> list[AccountNet]:
        """Each account's posted sums per instrument before `before`, of the parties `scope`
        sees (filtered in the query)."""
        ...

    def movements(
        self,
        account_id: int,
        instrument_code: str,
        between: tuple[datetime, datetime],
        after_posting_id: int,
        limit: int,
    ) -> list[MovementLine]: ...
    def count_movements(
        self, account_id: int, instrument_code: str, between: tuple[datetime, datetime]
    ) -> int:
        """How many lines `movements` answers over `between`, every page together."""
        ...

    def trades_between(
        self,
        first: date,
        last: date,
        state: str | None,
        after_seq: int,
        limit: int,
        *,
        scope: Scope = ...,
    ) -> list[tuple[int, Trade]]:
        """A page of trades dated first..last whose seller or buyer `scope` sees."""
        ...

    def market_trades(self, first: date, last: date) -> list[MarketTrade]: ...
    def market_reserve_operations(self, first: date, last: date) -> list[MarketTrade]:
        """The reserve sales and buy-backs booked as reserve operations (not reversed) whose
        business date lies in first..last (Beijing days), as the market report counts them."""
        ...

    # -- statements and reconciliations
    def get_import(self, import_id: str) -> StatementImport | None: ...
    def find_import(self, sha256: str) -> StatementImport | None: ...
    def imported_fingerprints(self, fingerprints: Sequence[str]) -> dict[str, tuple[str, int]]:
        """Of `fingerprints`, those already imported: (import id, line number) of each."""
        ...

    def add_import(
        self, record: StatementImport, lines: Sequence[tuple[StatementLine, str]]
    ) -> None: ...
    def import_lines(self, import_id: str) -> list[tuple[int, StatementLine]]: ...
    def add_reconciliation(self, record: Reconciliation) -> None: ...
    def get_reconciliation(
        self, reconciliation_id: str, *, lock: bool = False
    ) -> Reconciliation | None: ...
    def confirm_reconciliation(self, reconciliation_id: str, by: str, at: datetime) -> None: ...
    def ledger_items(
        self, account_id: int, instrument_code: str, between: tuple[datetime, datetime]
    ) -> list[LedgerItem]: ...
    def add_match(  # noqa: PLR0917 - what a match is
        self,
        reconciliation_id: str,
        match: Match,
        reason: str,
        by: str,
        at: datetime,
        client_id: str | None = None,
    ) -> int: ...
    def active_matches(self, reconciliation_id: str) -> list[MatchRecord]: ...
    def find_match(self, reconciliation_id: str, client_id: str) -> MatchRecord | None:
        """The match made under the client's id (active or unmatched since), if any."""
        ...

    def unmatch(self, match_id: int, by: str, at: datetime, reason: str) -> None: ...
