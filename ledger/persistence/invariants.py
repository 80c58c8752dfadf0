"""The invariant check anyone can run: the journal balances and every balance equals its postings.

Rules, each reported with the name it has here:
- `instrument_unbalanced`: per instrument, Σ posted debits = Σ posted credits.
- `entry_unbalanced`: every entry balances per instrument.
- `balance_mismatch`: each balance row's four counters equal the sums of its postings (pending
  counters: postings of pending entries not yet resolved).
- `running_balance_mismatch`: each posting's running balance equals the running sum before it.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import Connection, and_, case, exists, func, select

from ledger.domain.ports import Violation
from ledger.persistence import tables as t

_DEBIT = t.postings.c.side == "debit"
_SIGNED = case((_DEBIT, t.postings.c.units), else_=-t.postings.c.units)


def invariant_violations(connection: Connection) -> list[Violation]:
    """Every broken invariant, in rule order; an empty list means the ledger is consistent."""
    return (
        _unbalanced_instruments(connection)
        + _unbalanced_entries(connection)
        + _balance_mismatches(connection)
        + _running_balance_mismatches(connection)
    )


def _unbalanced_instruments(connection: Connection) -> list[Violation]:
    rows = connection.execute(
        select(t.postings.c.instrument_code, func.sum(_SIGNED).label("net"))
        .where(~t.postings.c.pending)
        .group_by(t.postings.c.instrument_code)
        .having(func.sum(_SIGNED) != 0)
    )
    return [
        Violation("instrument_unbalanced", f"{row.instrument_code}: debits − credits = {row.net}")
        for row in rows
    ]


def _unbalanced_entries(connection: Connection) -> list[Violation]:
    rows = connection.execute(
        select(t.entries.c.entry_id, t.postings.c.instrument_code, func.sum(_SIGNED).label("net"))
        .join(t.entries, t.entries.c.seq == t.postings.c.entry_seq)
        .group_by(t.entries.c.entry_id, t.postings.c.instrument_code)
        .having(func.sum(_SIGNED) != 0)
    )
    return [
        Violation(
            "entry_unbalanced",
            f"entry {row.entry_id}: {row.instrument_code} debits − credits = {row.net}",
        )
        for row in rows
    ]


def _balance_mismatches(connection: Connection) -> list[Violation]:
    expected: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    resolver = t.entries.alias("resolver")
    unresolved = ~exists().where(resolver.c.pending_seq == t.postings.c.entry_seq)
    live = ~t.postings.c.pending
    sums = connection.execute(
        select(
            t.postings.c.account_id,
            t.postings.c.instrument_code,
            t.postings.c.pending,
            t.postings.c.side,
            func.sum(t.postings.c.units).label("units"),
        )
        .where(live | unresolved)
        .group_by(
            t.postings.c.account_id,
            t.postings.c.instrument_code,
            t.postings.c.pending,
            t.postings.c.side,
        )
    )
    for row in sums:
        slot = (0 if row.side == "debit" else 1) + (2 if row.pending else 0)
        expected[(row.account_id, row.instrument_code)][slot] = int(row.units)
    violations = []
    for row in connection.execute(select(t.balances)):
        key = (row.account_id, row.instrument_code)
        actual = [row.debits_posted, row.credits_posted, row.debits_pending, row.credits_pending]
        wanted = expected.pop(key, [0, 0, 0, 0])
        if actual != wanted:
            violations.append(_mismatch(key, actual, wanted))
    violations += [_mismatch(key, None, sums_) for key, sums_ in expected.items() if any(sums_)]
    return violations


def _mismatch(
    key: tuple[int, str], actual: list[int] | None, wanted: list[int] | None
) -> Violation:
    return Violation(
        "balance_mismatch",
        f"account #{key[0]} {key[1]}: balance counters {actual} but postings sum to "
        f"{wanted} (debits posted, credits posted, debits pending, credits pending)",
    )


def _running_balance_mismatches(connection: Connection) -> list[Violation]:
    order = (t.postings.c.recorded_at, t.postings.c.id)
    partition = (t.postings.c.account_id, t.postings.c.instrument_code)
    running = (
        select(
            t.postings.c.id,
            t.postings.c.debits_after,
            t.postings.c.credits_after,
            func.sum(case((_DEBIT, t.postings.c.units), else_=0))
            .over(partition_by=partition, order_by=order)
            .label("debits"),
            func.sum(case((_DEBIT, 0), else_=t.postings.c.units))
            .over(partition_by=partition, order_by=order)
            .label("credits"),
        )
        .where(~t.postings.c.pending)
        .subquery()
    )
    rows = connection.execute(
        select(running.c.id)
        .where(
            ~and_(
                running.c.debits == running.c.debits_after,
                running.c.credits == running.c.credits_after,
            )
        )
        .order_by(running.c.id)
        .limit(100)
    )
    return [
        Violation("running_balance_mismatch", f"posting #{row.id}: running balance differs")
        for row in rows
    ]
