"""What the services need from storage, as protocols: the unit of work and its repositories.

`ledger.persistence` implements these with SQLAlchemy; the services never import it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from ledger.domain.accounts import Account, Balance, Side
from ledger.domain.amounts import Instrument
from ledger.domain.entries import BalanceKey, BookedPosting, EntryDraft, EntryRecord, EntryStatus


@dataclass(frozen=True, slots=True)
class AccountDraft:
    """An account as a client opens it."""

    code: str
    party: str
    name: str
    normal_side: Side
    non_negative: bool
    instrument_code: str | None


@dataclass(frozen=True, slots=True)
class NewEntry:
    """Everything the journal stores for one record, decided by a service."""

    draft: EntryDraft
    request_hash: str
    status: EntryStatus
    effective_at: datetime
    recorded_at: datetime
    postings: Sequence[BookedPosting]
    reverses_seq: int | None = None
    reverses_entry_id: str | None = None
    pending_seq: int | None = None
    pending_entry_id: str | None = None


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One posted movement of an account in one instrument, with the balance after it."""

    posting_id: int
    entry_id: str
    entry_type: str
    recorded_at: datetime
    effective_at: datetime
    side: Side
    units: int
    debits_after: int
    credits_after: int


@dataclass(frozen=True, slots=True)
class TrialBalanceLine:
    """Posted debit and credit totals of one account in one instrument."""

    account_code: str
    party: str
    normal_side: Side
    debits_posted: int
    credits_posted: int

    @property
    def debit(self) -> int:
        """The net balance if it is a debit balance, else 0 (the trial balance's debit column)."""
        return max(self.debits_posted - self.credits_posted, 0)

    @property
    def credit(self) -> int:
        """The net balance if it is a credit balance, else 0 (the credit column)."""
        return max(self.credits_posted - self.debits_posted, 0)


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken invariant found by the check."""

    rule: str
    detail: str


class InstrumentRepository(Protocol):
    def get_many(self, codes: Iterable[str]) -> dict[str, Instrument]: ...
    def add(self, instrument: Instrument, created_at: datetime) -> None: ...
    def list(self) -> list[Instrument]: ...


class AccountRepository(Protocol):
    def get_many(self, codes: Iterable[str]) -> dict[str, Account]: ...
    def cached(self, codes: Iterable[str]) -> dict[str, Account]:
        """Accounts whose fixed columns are exact but whose flags may be stale."""
        ...

    def lock(self, code: str) -> Account | None:
        """The account, its row locked until commit (PostgreSQL; SQLite locks the database)."""
        ...

    def add(self, draft: AccountDraft, created_at: datetime) -> Account: ...
    def set_flags(self, account_id: int, *, frozen: bool, closed: bool) -> None: ...
    def list(self, party: str | None, after_id: int, limit: int) -> list[Account]: ...


class JournalRepository(Protocol):
    def lock(
        self, accounts: Mapping[str, Account], keys: Iterable[BalanceKey]
    ) -> tuple[dict[str, Account], dict[BalanceKey, Balance]]:
        """Lock (creating where missing) the balances in one ordered statement; fresh flags."""
        ...

    def save_balances(self, balances: Iterable[Balance], recorded_at: datetime) -> None: ...
    def insert(self, entries: Sequence[NewEntry]) -> list[EntryRecord]: ...
    def get_many(self, entry_ids: Iterable[str]) -> dict[str, EntryRecord]: ...
    def get_by_seq(self, seq: int) -> EntryRecord: ...
    def follower_of(self, seq: int, *, link: str) -> EntryRecord | None:
        """The record that reverses (link='reverses') or resolves (link='pending') `seq`."""
        ...

    def due_pending(self, now: datetime, limit: int) -> list[EntryRecord]: ...
    def balances_of(self, account_id: int) -> list[Balance]: ...
    def balance_of(self, account_id: int, instrument_code: str) -> Balance | None: ...
    def posted_as_of(
        self, account_id: int, instrument_code: str, moment: datetime, *, axis: str
    ) -> tuple[int, int]: ...
    def statement(
        self, account_id: int, instrument_code: str, after_posting_id: int, limit: int
    ) -> list[StatementLine]: ...
    def trial_balance(self, instrument_code: str) -> list[TrialBalanceLine]: ...
    def find_violations(self) -> list[Violation]: ...


class UnitOfWork(Protocol):
    """One database transaction. Leaving the block without `commit()` rolls everything back."""

    @property
    def instruments(self) -> InstrumentRepository: ...
    @property
    def accounts(self) -> AccountRepository: ...
    @property
    def journal(self) -> JournalRepository: ...

    def now(self) -> datetime: ...
    def commit(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, read_only: bool = False) -> UnitOfWork: ...


Clock = Callable[[], datetime]
