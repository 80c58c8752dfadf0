"""What the services need from storage, as protocols: the unit of work and its repositories.

`ledger.persistence` implements these with SQLAlchemy; the services never import it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Any, Protocol, Self

from ledger.domain.access import (
    ApprovalRequest,
    AuditRecord,
    Enrolment,
    FourEyesPolicy,
    PrincipalRecord,
    RequestState,
    Role,
    Scope,
    StoredToken,
)
from ledger.domain.accounts import Account, Balance, Side
from ledger.domain.amounts import Instrument
from ledger.domain.cems import ImportRecord, OutletInfo, StoredHour, StoredMonth
from ledger.domain.chain import ChainHead, ChainLink
from ledger.domain.entries import BalanceKey, BookedPosting, EntryDraft, EntryRecord, EntryStatus
from ledger.domain.finance_ports import FinanceRepository
from ledger.domain.jobs import StoredJob
from ledger.domain.monitoring import MonthlyAggregate
from ledger.domain.penalties import PenaltyPayment, RightsPenalty
from ledger.domain.penalty_basis import PenaltyBasisEvent
from ledger.domain.permits import Permit
from ledger.domain.records import RecordLink
from ledger.domain.registry import (
    Bid,
    City,
    CityYear,
    Deduction,
    Entitlement,
    Listing,
    ListingState,
    Obligation,
    Outlet,
    Party,
    PartyKind,
    Pledge,
    Trade,
    TradeState,
    TradingBlock,
)
from ledger.domain.reports import Report, ReportLine, ReportStatus
from ledger.domain.sessions import StoredSession
from ledger.domain.tax_ports import TaxRepository


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
    def list(
        self, party: str | None, after_id: int, limit: int, *, scope: Scope = ...
    ) -> list[Account]: ...


class JournalRepository(Protocol):
    def lock(
        self, accounts: Mapping[str, Account], keys: Iterable[BalanceKey]
    ) -> tuple[dict[str, Account], dict[BalanceKey, Balance]]:
        """Lock (creating where missing) the balances in key order, revenue accounts' last
        (`locked_last`: a second statement when there are both); fresh flags."""
        ...

    def save_balances(self, balances: Iterable[Balance], recorded_at: datetime) -> None:
        """The counters a booking left; written at the latest with the next insert or commit."""
        ...

    def insert(self, entries: Sequence[NewEntry]) -> list[EntryRecord]: ...
    def get_many(self, entry_ids: Iterable[str]) -> dict[str, EntryRecord]: ...
    def get_whole(self, entry_id: str) -> EntryRecord | None:
        """One entry with its postings and references, in one read (`get_many` takes three)."""
        ...

    def get_by_seq(self, seq: int) -> EntryRecord: ...
    def follower_of(self, seq: int, *, link: str) -> EntryRecord | None:
        """The record that reverses (link='reverses') or resolves (link='pending') `seq`."""
        ...

    def found_unresolved(self, seq: int) -> None:
        """The pending entry `seq` has no resolution: the caller read so in a read of its own
        after locking every balance the entry holds (`RegistryRepository.transfer_rules`), so
        that none can come before this transaction ends but its own; `follower_of(seq,
        link='pending')` asks no more."""
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


@dataclass(frozen=True, slots=True)
class TradeEvent:
    """One line of a trade's append-only history: the state it entered, who, when, why."""

    trade_id: str
    state: TradeState
    actor: str
    at: datetime
    note: str = ""


@dataclass(frozen=True, slots=True)
class TransferRules:
    """What the rules of a transfer of rights read, in one statement after its lock: the policy
    row as stored (None: none yet), the receiving city (None: unknown or none) and its
    eligibility decision for the year, every block ever set on the two parties, and the label of
    a closed period containing the transfer's effective time (None: open)."""

    policy: dict[str, object] | None
    city: City | None
    decision: CityYear | None
    blocks: list[TradingBlock]
    closed_period: str | None
    pending_resolved: bool | None = None  # whether the pending entry asked about is resolved


@dataclass(frozen=True, slots=True)
class ProposalContext:
    """What a trade's proposal reads, in one statement: the trade stored under its id (None:
    none), those of its seller and buyer that exist (by code), the policy row as stored, the
    span of the seller's entitlements of the trade's family (earliest first vintage, latest
    last; None: none), and the label of a closed period containing the trade date (None:
    open)."""

    existing: Trade | None
    parties: dict[str, Party]
    policy: dict[str, object] | None
    entitled: tuple[int, int] | None
    closed_period: str | None


@dataclass(frozen=True, slots=True)
class Surrender:
    """Units of an instrument surrendered against an obligation (its journal entry: `id`)."""

    id: str
    obligation_id: str
    instrument_code: str
    units: int


class RegistryRepository(Protocol):
    """The registry's business records; listings return (position, record) for cursors."""

    def add_party(self, party: Party, at: datetime) -> None: ...
    def get_party(self, code: str, *, lock: bool = False) -> Party | None:
        """The party; with `lock`, its row held till the commit (writers of its tax returns
        take turns on it), which rows referencing the party do not wait for."""
        ...

    def get_parties(self, codes: Iterable[str]) -> dict[str, Party]:
        """The parties of `codes` that exist, by code, in one read."""
        ...

    def list_parties(
        self,
        kind: PartyKind | None,
        city: str | None,
        after: int,
        limit: int,
        *,
        scope: Scope = ...,
        name: str | None = None,
    ) -> list[tuple[int, Party]]: ...
    def add_outlet(self, outlet: Outlet) -> None: ...
    def get_outlet(self, party: str, outlet_code: str) -> Outlet | None: ...
    def list_outlets(
        self, party: str | None, after: int, limit: int, *, scope: Scope = ...
    ) -> list[tuple[int, Outlet]]: ...
    def put_city(self, city: City) -> None: ...
    def get_city(self, name: str) -> City | None: ...
    def put_city_year(self, decision: CityYear) -> None: ...
    def city_years(self, name: str) -> list[CityYear]: ...
    def city_in_year(self, name: str, year: int) -> tuple[City | None, CityYear | None]:
        """The city (None if unknown) and its eligibility decision for `year` (None if none)."""
        ...

    def transfer_rules(  # noqa: PLR0917 - the transfer's parts
        self,
        giver: str,
        receiver: str,
        receiver_city: str | None,
        year: int,
        moment: datetime,
        pending_seq: int | None = None,
    ) -> TransferRules:
        """Everything a transfer's rules read (see `TransferRules`), in one read; and whether
        the pending entry `pending_seq` (if any) is resolved."""
        ...

    def proposal_context(
        self, trade_id: str, seller: str, buyer: str, family: str, moment: datetime
    ) -> ProposalContext:
        """Everything a trade's proposal reads (see `ProposalContext`), in one read."""
        ...

    def get_policy(self) -> dict[str, object] | None: ...
    def put_policy(self, values: Mapping[str, object]) -> None: ...
    def add_entitlement(self, entitlement: Entitlement, at: datetime) -> None: ...
    def get_entitlement(self, entitlement_id: str) -> Entitlement | None: ...
    def list_entitlements(
        self,
        party: str | None,
        pollutant: str | None,
        after: int,
        limit: int,
        *,
        scope: Scope = ...,
    ) -> list[tuple[int, Entitlement]]: ...
    def add_block(self, block: TradingBlock, at: datetime) -> None: ...
    def get_block(self, block_id: str) -> TradingBlock | None: ...
    def lift_block(self, block_id: str, day: date) -> None: ...
    def blocks_of(self, parties: Sequence[str]) -> list[TradingBlock]:
        """Every block ever set on these parties, lifted or not."""
        ...

    def list_blocks(
        self, party: str | None, after: int, limit: int, *, scope: Scope = ...
    ) -> list[tuple[int, TradingBlock]]: ...
    def add_listing(self, listing: Listing, at: datetime) -> None: ...
    def get_listing(self, listing_id: str, *, lock: bool = False) -> Listing | None: ...
    def set_listing_state(self, listing_id: str, state: ListingState) -> None: ...
    def list_listings(
        self, state: ListingState | None, after: int, limit: int
    ) -> list[tuple[int, Listing]]: ...
    def add_bid(self, bid: Bid) -> None: ...
    def bids_of(self, listing_id: str) -> list[Bid]:
        """A listing's bids in the order they came."""
        ...

    def set_bid_outcome(self, seq: int, outcome: str) -> None: ...
    def taken_back(self, entitlement_id: str) -> list[tuple[int, int, int]]:
        """(first vintage, last vintage, units per vintage) of each reclaim or buy-back of the
        entitlement that stands (not reversed)."""
        ...

    def paid_rights(self, party: str, pollutant: str, codes: Sequence[str]) -> dict[str, int]:
        """Per instrument code: the rights `party` bought (settled trades at a price, reserve
        sales with a cash leg) less those it sold in trades or had bought back naming no
        entitlement; reversed entries left out."""
        ...

    def add_pledge(self, pledge: Pledge, at: datetime) -> None: ...
    def get_pledge(self, pledge_id: str) -> Pledge | None: ...
    def release_pledge(self, pledge_id: str) -> None: ...
    def list_pledges(
        self,
        party: str | None,
        pollutant: str | None,
        after: int,
        limit: int,
        *,
        scope: Scope = ...,
    ) -> list[tuple[int, Pledge]]: ...
    def add_trade(self, trade: Trade, event: TradeEvent) -> None:
        """A new trade (created at `event.at`) and its history's first line, `event`."""
        ...

    def get_trade(self, trade_id: str, *, lock: bool = False) -> Trade | None: ...
    def get_trade_and_parties(
        self, trade_id: str, *, lock: bool = False
    ) -> tuple[Trade, Party, Party] | None:
        """The trade (its row locked if `lock`), its seller and its buyer, in one read."""
        ...

    def set_trade_state(self, event: TradeEvent) -> None:
        """The trade's new state, `event.state` since `event.at`, and its history line."""
        ...

    def trade_events(self, trade_id: str) -> list[TradeEvent]: ...
    def list_trades(
        self,
        party: str | None,
        family: str | None,
        state: TradeState | None,
        after: int,
        limit: int,
        *,
        scope: Scope = ...,
    ) -> list[tuple[int, Trade]]: ...
    def due_trades(self, now: datetime, limit: int) -> list[str]:
        """Ids of proposed or accepted trades whose `expires_at` has passed."""
        ...

    def add_obligation(self, obligation: Obligation, at: datetime) -> None: ...
    def get_obligation(self, obligation_id: str, *, lock: bool = False) -> Obligation | None: ...
    def close_obligation(
        self, obligation_id: str, penalty_fen: int, deduction_units: int
    ) -> None: ...

    def list_obligations(
        self,
        party: str | None,
        period: int | None,
        after: int,
        limit: int,
        *,
        scope: Scope = ...,
    ) -> list[tuple[int, Obligation]]: ...
    def add_surrender(self, surrender: Surrender, at: datetime) -> None: ...
    def surrenders_of(self, obligation_id: str) -> list[Surrender]: ...
    def owing_obligations(self, party: str, before_year: int) -> list[Obligation]:
        """Closed obligations before `before_year` with a shortfall to deduct, locked."""
        ...

    def deducted_units(self, obligation_ids: Sequence[str]) -> dict[str, int]: ...
    def add_deductions(self, deductions: Sequence[Deduction], at: datetime) -> None: ...
    def deductions_of_allocation(self, allocation_id: str) -> list[Deduction]: ...
    def list_deductions(
        self,
        party: str | None,
        obligation_id: str | None,
        after: int,
        limit: int,
        *,
        scope: Scope = ...,
    ) -> list[tuple[int, Deduction]]: ...
    def add_rights_penalty(self, penalty: RightsPenalty, at: datetime) -> None: ...
    def get_rights_penalty(
        self, penalty_id: str, *, lock: bool = False
    ) -> RightsPenalty | None: ...
    def list_rights_penalties(
        self, party: str | None, after: int, limit: int, *, scope: Scope = ...
    ) -> list[tuple[int, RightsPenalty]]: ...
    def add_penalty_payment(self, payment: PenaltyPayment, at: datetime) -> None: ...
    def get_penalty_payment(self, payment_id: str) -> PenaltyPayment | None: ...
    def paid_fen(self, penalty_id: str) -> int: ...
    def add_obligation_payment(self, payment: PenaltyPayment, at: datetime) -> None: ...
    def get_obligation_payment(self, payment_id: str) -> PenaltyPayment | None: ...
    def obligation_paid_fen(self, obligation_id: str) -> int: ...


class ChainRepository(Protocol):
    """The journal's hash chain (`journal_chain`) and its head; sealing is its only writer."""

    def head(self, *, lock: bool = False) -> ChainHead:
        """Where the chain ends as its sealer recorded it; with `lock`, sealers queue behind it."""
        ...

    def move_head(self, head: ChainHead, sealed_at: datetime) -> None: ...
    def head_and_tail(self) -> tuple[ChainHead, ChainLink | None]:
        """The head as recorded and the last link (None: the chain is empty), read together."""
        ...

    def link_at(self, chain_seq: int) -> ChainLink | None: ...
    def allocation_mark(self) -> tuple[int, frozenset[int]]:
        """(the highest seq drawn, the transactions that may have drawn one and still run)."""
        ...

    def running_xids(self) -> frozenset[int]:
        """Ids of the transactions writing now (none where commits follow seq order)."""
        ...

    def entries_above(self, seq: int, *, up_to: int, limit: int) -> list[EntryRecord]:
        """Up to `limit` committed entries with `seq` < their seq <= `up_to`, by seq."""
        ...

    def append(self, links: Sequence[ChainLink], sealed_at: datetime) -> None: ...
    def links(self, after_chain_seq: int, limit: int) -> list[tuple[ChainLink, EntryRecord | None]]:
        """Links after `after_chain_seq` in order, each with its entry (None if it is gone)."""
        ...

    def first_unaccounted(self, position: int) -> EntryRecord | None:
        """The first entry with a seq up to `position` that is not chained."""
        ...

    def first_above(self, position: int) -> EntryRecord | None:
        """The first entry with a seq above `position`."""
        ...


class RecordChainRepository(Protocol):
    """The business records' chains, their heads and the queue of changes to seal."""

    @property
    def chains(self) -> tuple[str, ...]: ...
    def changes(self, limit: int) -> list[tuple[int, str, str]]:
        """Up to `limit` changes waiting to be sealed, oldest first: (seq, chain, key)."""
        ...

    def forget(self, seqs: Sequence[int]) -> None: ...
    def queued(self, chain: str, keys: Iterable[str]) -> set[str]: ...
    def stale_change(self, chain: str, grace: timedelta) -> tuple[str, datetime] | None:
        """A change waiting longer than `grace` (by the database's clock): (key, when)."""
        ...

    def contents(self, chain: str, keys: Iterable[str]) -> dict[str, dict[str, Any] | None]:
        """Each record as it now is, or None if there is no such record."""
        ...

    def first_unaccounted(self, chain: str) -> str | None: ...
    def latest(self, chain: str, keys: Iterable[str]) -> dict[str, str]: ...
    def links(self, chain: str, after: int, limit: int) -> list[tuple[RecordLink, bool]]: ...
    def link_at(self, chain: str, seq: int) -> RecordLink | None: ...
    def head_and_tail(self, chain: str) -> tuple[ChainHead, RecordLink | None]: ...
    def head(self, chain: str, *, lock: bool = False) -> ChainHead: ...
    def append(self, chain: str, links: Sequence[RecordLink], sealed_at: datetime) -> None: ...


class AccessRepository(Protocol):
    """Principals, tokens, four-eyes requests and the append-only audit log."""

    def add_principal(self, principal: PrincipalRecord) -> None: ...
    def get_principal(self, principal_id: str) -> PrincipalRecord | None: ...
    def list_principals(self, after: str, limit: int) -> list[PrincipalRecord]: ...
    def set_active(self, principal_id: str, active: bool) -> None: ...
    def count_principals(self, role: Role) -> int: ...
    def roles_of_person(self, person: str) -> set[Role]: ...
    def add_token(self, token: StoredToken) -> None: ...
    def get_token(self, token_id: str) -> StoredToken | None: ...
    def tokens_of(self, principal_id: str) -> list[StoredToken]: ...
    def city_of(self, party: str) -> str | None: ...
    def revoke_token(self, token_id: str, at: datetime) -> None: ...
    def add_request(self, request: ApprovalRequest) -> None: ...
    def get_request(self, request_id: str, *, lock: bool = False) -> ApprovalRequest | None: ...
    def decide(  # noqa: PLR0917
        self,
        request_id: str,
        state: RequestState,
        decided_by: tuple[str, str] | None,
        at: datetime,
        result: Mapping[str, Any] | None,
        reason: str | None,
    ) -> bool: ...
    def expire_requests(self, now: datetime) -> int: ...
    def withdraw_requests(self, initiator: str, at: datetime) -> int: ...
    def add_enrolment(self, enrolment: Enrolment) -> None: ...
    def open_enrolments(self, principal_id: str, now: datetime) -> list[Enrolment]: ...
    def redeem_enrolment(self, enrolment_id: str, at: datetime) -> bool: ...
    def list_requests(
        self, state: RequestState | None, authority: str | None, after: str, limit: int
    ) -> list[ApprovalRequest]: ...
    def append_audit(self, records: Sequence[AuditRecord]) -> None: ...
    def list_audit(self, principal_id: str | None, after: int, limit: int) -> list[AuditRecord]: ...


class SessionRepository(Protocol):
    """The web console's sessions, by the hash of their id (migration 0028)."""

    def add(self, session: StoredSession) -> None: ...
    def get(self, id_hash: str) -> StoredSession | None: ...
    def touch(self, id_hash: str, at: datetime) -> None:
        """Move the session's last use to `at` (never back)."""
        ...

    def remove(self, id_hash: str) -> None: ...
    def remove_idle(self, unused_since: datetime) -> int:
        """Every session last used before `unused_since`, removed; how many."""
        ...


class JobRepository(Protocol):
    """The web console's jobs and their files (migration 0029)."""

    def running_of(self, principal_id: str, alive_since: datetime) -> int:
        """How many of the principal's jobs run (their worker wrote since `alive_since`), its
        row locked until commit."""
        ...

    def add(self, job: StoredJob) -> None: ...
    def get(self, job_id: str) -> StoredJob | None: ...
    def progress(self, job_id: str, done: int, total: int | None, at: datetime) -> None: ...
    def end(  # noqa: PLR0917
        self,
        job_id: str,
        failed: bool,
        outcome: str,
        done: int,
        total: int | None,
        at: datetime,
        media_type: str | None,
        size: int | None,
    ) -> None: ...
    def add_chunk(self, job_id: str, seq: int, content: bytes) -> None: ...
    def chunk(self, job_id: str, seq: int) -> bytes | None: ...
    def remove_ended(self, ended_before: datetime, silent_before: datetime) -> int:
        """Jobs ended before `ended_before`, or running but silent since `silent_before`,
        removed with their files; how many."""
        ...


class MonitoringRepository(Protocol):
    """CEMS hours (append-only), their imports and monthly aggregates (migration 0005).

    An import stages its rows in a per-transaction staging table, checks them there with set
    queries (duplicates within the file, clashes with stored hours), then inserts the new ones.
    """

    def outlets(self, party: str | None, *, scope: Scope = ...) -> list[OutletInfo]: ...
    def find_import(self, sha256: str) -> ImportRecord | None: ...
    def add_import(self, record: ImportRecord) -> int: ...
    def start_staging(self) -> None: ...
    def stage(self, rows: Sequence[tuple[int, int, str, int, int, int, int, int, str]]) -> None: ...
    def duplicate_hours(self, limit: int) -> tuple[int, list[tuple[int, int]]]:
        """(count, [(line, first line of the same hour)]) of staged hours staged twice."""
        ...

    def conflicting_hours(self, limit: int) -> tuple[int, list[tuple[int, int]]]:
        """(count, [(line, import seq)]) of staged hours stored already with other values."""
        ...

    def unchanged_hours(self) -> int:
        """Staged hours stored already with the same values."""
        ...

    def insert_staged(self, import_seq: int) -> int: ...
    def end_staging(self) -> None: ...
    def hours(
        self, outlet_seq: int, pollutant: str, first_hour: int, end_hour: int
    ) -> list[StoredHour]: ...
    def put_month(self, outlet_seq: int, aggregate: MonthlyAggregate, at: datetime) -> None: ...
    def months(
        self,
        party: str | None,
        outlet: str | None,
        pollutant: str | None,
        first: date,
        last: date,
        *,
        after: int = 0,
        limit: int | None = None,
        scope: Scope = ...,
        exceeding: bool = False,
    ) -> list[StoredMonth]:
        """Aggregates of months `first`..`last` (first days), by position (`seq`); with
        `exceeding`, only those with an hourly exceedance."""
        ...


class ReportRepository(Protocol):
    """Emission reports and their lines (migration 0005); the database guards the workflow."""

    def add(self, report: Report, lines: Sequence[ReportLine]) -> None: ...
    def get(self, report_id: str, *, lock: bool = False) -> Report | None: ...
    def lines(self, report_id: str) -> list[ReportLine]: ...
    def of_party(self, party: str) -> list[Report]: ...
    def update(self, report: Report) -> None: ...
    def verified_covering(self, party: str, month: date) -> Report | None: ...
    def list(
        self,
        party: str | None,
        status: ReportStatus | None,
        after: int,
        limit: int,
        *,
        scope: Scope = ...,
    ) -> list[tuple[int, Report]]: ...


class PermitRepository(Protocol):
    def add_permit(self, permit: Permit) -> None: ...
    def permits_of(self, party: str, outlet: str | None = None) -> list[Permit]: ...
    def add_event(self, event: PenaltyBasisEvent) -> None: ...
    def get_event(self, event_id: str) -> PenaltyBasisEvent | None: ...
    def events_of(self, party: str) -> list[PenaltyBasisEvent]: ...


class UnitOfWork(Protocol):
    """One database transaction. Leaving the block without `commit()` rolls everything back."""

    @property
    def instruments(self) -> InstrumentRepository: ...
    @property
    def registry(self) -> RegistryRepository: ...
    @property
    def accounts(self) -> AccountRepository: ...
    @property
    def journal(self) -> JournalRepository: ...
    @property
    def chain(self) -> ChainRepository: ...
    @property
    def records(self) -> RecordChainRepository: ...
    @property
    def finance(self) -> FinanceRepository: ...
    @property
    def monitoring(self) -> MonitoringRepository: ...
    @property
    def permits(self) -> PermitRepository: ...
    @property
    def reports(self) -> ReportRepository: ...
    @property
    def access(self) -> AccessRepository: ...
    @property
    def tax(self) -> TaxRepository: ...
    @property
    def sessions(self) -> SessionRepository: ...
    @property
    def jobs(self) -> JobRepository: ...
    @property
    def four_eyes(self) -> FourEyesPolicy: ...

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
