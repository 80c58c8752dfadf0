"""Read-only use cases: entries with their state, balances (now and as of), statements, trial
balance, the invariant check and the verification of the journal's hash chain.

An account's balances and statement are its party's: out of scope, the account is not found
(the same 404 as an unknown one); the trial balance and the checks are oversight's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from ledger.domain.access import Actor
from ledger.domain.accounts import Account, Balance
from ledger.domain.amounts import Instrument
from ledger.domain.bounds import check_instant
from ledger.domain.entries import EntryRecord, EntryStatus
from ledger.domain.errors import EntryNotFound, InvalidField, UnknownInstrument
from ledger.domain.pages import check_page_size, decode_cursor, next_cursor
from ledger.domain.ports import (
    StatementLine,
    TrialBalanceLine,
    UnitOfWork,
    UnitOfWorkFactory,
    Violation,
)
from ledger.services import chain, checkpoints
from ledger.services.authority import use_case
from ledger.services.registry import seen_account, visible_account
from ledger.services.transactions import read

TIME_AXES = ("recorded", "effective")


@dataclass(frozen=True, slots=True)
class EntryView:
    """A journal record with what happened to it since: its state, reversal and resolution."""

    record: EntryRecord
    state: str  # posted | pending | voided | expired (for pending entries: their outcome)
    reversed_by: str | None
    resolved_by: str | None
    instruments: Mapping[str, Instrument]


@dataclass(frozen=True, slots=True)
class BalanceView:
    """An account's balance in one instrument, now or as of an instant on one time axis."""

    account: Account
    instrument: Instrument
    balance: Balance
    as_of: datetime | None
    axis: str | None


@dataclass(frozen=True, slots=True)
class Statement:
    """One page of an account's posted movements in one instrument, and the next page's
    cursor (None after the last)."""

    account: Account
    instrument: Instrument
    lines: list[StatementLine]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class TrialBalance:
    """Net balances of every account in one instrument; the two column totals must agree."""

    instrument: Instrument
    lines: list[TrialBalanceLine]
    debits_total: int
    credits_total: int

    @property
    def balanced(self) -> bool:
        return self.debits_total == self.credits_total


@use_case("entries.read")
def get_entry(uow_factory: UnitOfWorkFactory, actor: Actor, entry_id: str) -> EntryView:
    """One journal record with its current state (oversight roles see every entry)."""
    return read(uow_factory, lambda uow: _entry_view(uow, entry_id))


def _entry_view(uow: UnitOfWork, entry_id: str) -> EntryView:
    record = uow.journal.get_many([entry_id]).get(entry_id)
    if record is None:
        raise EntryNotFound(f"entry {entry_id!r} not found", field="entry_id", entry_id=entry_id)
    reversal = uow.journal.follower_of(record.seq, link="reverses")
    resolution = None
    state = record.status.value
    if record.status is EntryStatus.PENDING:
        resolution = uow.journal.follower_of(record.seq, link="pending")
        if resolution is not None:
            state = resolution.status.value
    return EntryView(
        record,
        state,
        reversal.entry_id if reversal else None,
        resolution.entry_id if resolution else None,
        uow.instruments.get_many(p.instrument_code for p in record.postings),
    )


def _instrument(uow: UnitOfWork, code: str) -> Instrument:
    instrument = uow.instruments.get_many([code]).get(code)
    if instrument is None:
        raise UnknownInstrument(f"no instrument {code!r}", field="instrument")
    return instrument


@use_case("balances.read")
def get_balances(
    uow_factory: UnitOfWorkFactory, actor: Actor, account_code: str
) -> list[BalanceView]:
    """Current balances of an account in every instrument it has ever held."""

    def work(uow: UnitOfWork) -> list[BalanceView]:
        account = visible_account(uow, actor, account_code)
        balances = uow.journal.balances_of(account.id)
        instruments = uow.instruments.get_many(b.instrument_code for b in balances)
        return [
            BalanceView(account, instruments[b.instrument_code], b, None, None) for b in balances
        ]

    return read(uow_factory, work)


@use_case("balances.read")
def get_balance(  # noqa: PLR0917 - the account, the instrument and the instant
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    account_code: str,
    instrument_code: str,
    as_of: datetime | None = None,
    axis: str = "recorded",
) -> BalanceView:
    """The balance now (one row), or the posted balance as of an instant on the named axis."""
    if axis not in TIME_AXES:
        raise InvalidField(f"time axis must be one of {TIME_AXES}", field="axis")
    if as_of is not None:
        check_instant(as_of, "as_of")

    def work(uow: UnitOfWork) -> BalanceView:
        # Party, normal side and the non-negative flag never change: the cached account is exact.
        cached = uow.accounts.cached([account_code]).get(account_code)
        account = seen_account(uow, actor, account_code, cached)
        instrument = _instrument(uow, instrument_code)
        if as_of is None:
            balance = uow.journal.balance_of(account.id, instrument_code) or Balance(
                account.id, instrument_code, account.normal_side, account.non_negative
            )
            return BalanceView(account, instrument, balance, None, None)
        debits, credits = uow.journal.posted_as_of(account.id, instrument_code, as_of, axis=axis)
        past = Balance(
            account.id,
            instrument_code,
            account.normal_side,
            account.non_negative,
            debits_posted=debits,
            credits_posted=credits,
        )
        return BalanceView(account, instrument, past, as_of, axis)

    return read(uow_factory, work)


@use_case("statements.read")
def get_statement(  # noqa: PLR0917 - the account, the instrument and the page
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    account_code: str,
    instrument_code: str,
    cursor: str | None,
    limit: int,
) -> Statement:
    """Posted movements in recorded order with the running balance after each, one page."""
    after = decode_cursor("statement", cursor)
    check_page_size(limit)

    def work(uow: UnitOfWork) -> Statement:
        account = visible_account(uow, actor, account_code)
        instrument = _instrument(uow, instrument_code)
        lines = uow.journal.statement(account.id, instrument_code, after, limit)
        following = next_cursor("statement", [line.posting_id for line in lines], limit)
        return Statement(account, instrument, lines, following)

    return read(uow_factory, work)


@use_case("trial_balance.read")
def get_trial_balance(
    uow_factory: UnitOfWorkFactory, actor: Actor, instrument_code: str
) -> TrialBalance:
    """Posted debits and credits of every account in one instrument, with the two totals (an
    oversight report: only roles that see every party may read it, see `operations`)."""

    def work(uow: UnitOfWork) -> TrialBalance:
        instrument = _instrument(uow, instrument_code)
        lines = uow.journal.trial_balance(instrument_code)
        return TrialBalance(
            instrument,
            lines,
            sum(line.debit for line in lines),
            sum(line.credit for line in lines),
        )

    return read(uow_factory, work)


@use_case("invariants.check")
def check_invariants(uow_factory: UnitOfWorkFactory, actor: Actor) -> list[Violation]:
    """Every broken invariant of the whole ledger (empty when all hold)."""
    return read(uow_factory, lambda uow: uow.journal.find_violations())


@use_case("chain.verify")
def verify_journal(
    uow_factory: UnitOfWorkFactory, actor: Actor, loaded: checkpoints.Loaded | None = None
) -> chain.VerifyReport:
    """Recompute every hash chain and invariant, against the checkpoints `loaded` (if any):
    `checkpoints.verify`, which writes nothing."""
    return checkpoints.verify(uow_factory, loaded)
