"""Translation between wire models and service commands/results; no business rules here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from api import schemas
from ledger.domain.accounts import Account, Balance, Side
from ledger.domain.amounts import Instrument, InstrumentKind
from ledger.domain.entries import EntryRecord, PostingRequest, Reference
from ledger.services.journal import Posted, PostEntry, ResolvePending, ReverseEntry
from ledger.services.queries import BalanceView, EntryView


def posting_requests(postings: Sequence[schemas.PostingIn]) -> tuple[PostingRequest, ...]:
    return tuple(
        PostingRequest(line.account, line.instrument, Side(line.side), line.amount)
        for line in postings
    )


def post_entry_command(body: schemas.EntryIn, *, pending: bool = False) -> PostEntry:
    expires_at = body.expires_at if isinstance(body, schemas.PendingEntryIn) else None
    return PostEntry(
        entry_id=body.entry_id,
        entry_type=body.entry_type,
        postings=posting_requests(body.postings),
        effective_at=body.effective_at,
        memo=body.memo,
        metadata=body.metadata,
        references=tuple(Reference(r.kind, r.id) for r in body.references),
        pending=pending,
        expires_at=expires_at,
    )


def batch_commands(body: schemas.BatchIn) -> list[PostEntry]:
    return [post_entry_command(entry, pending=entry.pending) for entry in body.entries]


def reverse_command(original_entry_id: str, body: schemas.ReverseIn) -> ReverseEntry:
    return ReverseEntry(
        original_entry_id, body.entry_id, body.effective_at, body.memo, body.metadata
    )


def resolve_command(
    pending_entry_id: str, body: schemas.PostPendingIn | schemas.VoidPendingIn
) -> ResolvePending:
    postings = getattr(body, "postings", None)
    return ResolvePending(
        pending_entry_id,
        body.entry_id,
        None if postings is None else posting_requests(postings),
        body.effective_at,
        body.memo,
        body.metadata,
    )


def entry_out(
    record: EntryRecord,
    instruments: Mapping[str, Instrument],
    *,
    state: str | None = None,
    reversed_by: str | None = None,
    resolved_by: str | None = None,
) -> schemas.EntryOut:
    return schemas.EntryOut(
        entry_id=record.entry_id,
        entry_type=record.entry_type,
        status=record.status.value,
        state=state or record.status.value,
        effective_at=record.effective_at,
        recorded_at=record.recorded_at,
        memo=record.memo,
        metadata=dict(record.metadata),
        references=[schemas.ReferenceModel(kind=r.kind, id=r.id) for r in record.references],
        postings=[
            schemas.PostingOut(
                account=p.account_code,
                instrument=p.instrument_code,
                side=p.side.value,
                amount=instruments[p.instrument_code].format(p.units),
                units=p.units,
            )
            for p in record.postings
        ],
        reverses_entry_id=record.reverses_entry_id,
        pending_entry_id=record.pending_entry_id,
        expires_at=record.expires_at,
        reversed_by=reversed_by,
        resolved_by=resolved_by,
    )


def posted_out(posted: Posted) -> schemas.EntryOut:
    return entry_out(posted.entry, posted.instruments)


def entry_view_out(view: EntryView) -> schemas.EntryOut:
    return entry_out(
        view.record,
        view.instruments,
        state=view.state,
        reversed_by=view.reversed_by,
        resolved_by=view.resolved_by,
    )


def account_out(account: Account) -> schemas.AccountOut:
    return schemas.AccountOut(
        code=account.code,
        party=account.party,
        name=account.name,
        normal_side=account.normal_side.value,
        non_negative=account.non_negative,
        instrument=account.instrument_code,
        frozen=account.frozen,
        closed=account.closed,
    )


def instrument_out(instrument: Instrument) -> schemas.InstrumentOut:
    return schemas.InstrumentOut(
        code=instrument.code,
        name=instrument.name,
        kind=instrument.kind.value,
        unit=instrument.unit,
        scale=instrument.scale,
    )


def balance_out(view: BalanceView) -> schemas.BalanceOut:
    balance: Balance = view.balance
    fmt = view.instrument.format
    return schemas.BalanceOut(
        account=view.account.code,
        instrument=view.instrument.code,
        normal_side=view.account.normal_side.value,
        balance=fmt(balance.posted),
        available=fmt(balance.available),
        debits_posted=fmt(balance.debits_posted),
        credits_posted=fmt(balance.credits_posted),
        debits_pending=fmt(balance.debits_pending),
        credits_pending=fmt(balance.credits_pending),
        money=_money(view.instrument, balance.posted),
        version=None if view.as_of else balance.version,
        as_of=view.as_of,
        axis=view.axis,
    )


def _money(instrument: Instrument, units: int) -> schemas.MoneyOut | None:
    """Cash balances also as py-moneyed Money, rendered in the wire's money format."""
    if instrument.kind is not InstrumentKind.CASH:
        return None
    money = instrument.to_money(units)
    return schemas.MoneyOut(amount=instrument.format(units), currency=money.currency.code)
