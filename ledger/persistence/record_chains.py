"""The business records' hash chains: which tables each chain seals, and their storage.

A chain seals the records of one table (its root), each with the rows of other tables that
belong to it (its parts: a trade's events, a report's lines). Triggers (migration 0010) note
every INSERT, UPDATE or DELETE of a root or part row in `record_changes` as (chain, key of the
record), in the writer's own transaction; the sealer drains that queue, reads each record as it
now is and appends a link for every record whose digest changed. Nothing on the write path
waits for a chain: a write costs one more row.

`CHAINS` must name the same tables, keys and parts as the migration's triggers (a test keeps
them in step). Not chained: balances (derived: verify recomputes them from the postings), CEMS
hours and their monthly cache (raw measurements, imported by files whose SHA-256 is kept), and
the chains' own tables.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    String,
    Table,
    and_,
    cast,
    delete,
    exists,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ledger.domain.bounds import is_digits
from ledger.domain.chain import GENESIS_HASH, ChainHead
from ledger.domain.records import RecordLink
from ledger.persistence import tables as t


@dataclass(frozen=True, slots=True)
class Part:
    """Rows of `table` that belong to a record: those whose `parent` column is its key."""

    table: Table
    parent: str
    order: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RecordChain:
    """The chain `name` seals the rows of `table` by `key`, each with its `parts`."""

    name: str
    table: Table
    key: str
    parts: tuple[Part, ...] = field(default=())

    @property
    def integer_key(self) -> bool:
        return isinstance(self.table.c[self.key].type, Integer)


CHAINS = (
    RecordChain("trades", t.trades, "id", (Part(t.trade_events, "trade_id", ("id",)),)),
    RecordChain("entitlements", t.entitlements, "id"),
    RecordChain("pledges", t.pledges, "id"),
    RecordChain("blocks", t.trading_blocks, "id"),
    RecordChain("listings", t.listings, "id", (Part(t.listing_bids, "listing_id", ("id",)),)),
    RecordChain(
        "obligations", t.obligations, "id", (Part(t.surrenders, "obligation_id", ("id",)),)
    ),
    RecordChain("deductions", t.carbon_deductions, "id"),
    RecordChain("obligation_payments", t.obligation_penalty_payments, "id"),
    RecordChain(
        "credit_years",
        t.equipment_credit_years,
        "id",
        (Part(t.equipment_credit_moves, "year_id", ("id",)),),
    ),
    RecordChain(
        "retrofit_projects",
        t.retrofit_projects,
        "id",
        (Part(t.retrofit_project_years, "project_id", ("year",)),),
    ),
    RecordChain(
        "rights_penalties",
        t.rights_penalties,
        "id",
        (Part(t.rights_penalty_payments, "penalty_id", ("id",)),),
    ),
    RecordChain(
        "reports",
        t.emission_reports,
        "id",
        (Part(t.emission_report_lines, "report_id", ("line_no",)),),
    ),
    RecordChain(
        "reductions",
        t.verified_reductions,
        "id",
        (Part(t.verified_reduction_reversals, "reduction_id", ("reduction_id",)),),
    ),
    RecordChain(
        "returns", t.tax_returns, "id", (Part(t.tax_return_lines, "return_id", ("line_no",)),)
    ),
    RecordChain(
        "incentive_bases",
        t.incentive_bases,
        "id",
        (
            Part(t.incentive_basis_reports, "basis_id", ("report_id",)),
            Part(t.incentive_basis_voids, "basis_id", ("basis_id",)),
        ),
    ),
    RecordChain(
        "incentives",
        t.incentives,
        "id",
        (Part(t.incentive_reversals, "incentive_id", ("incentive_id",)),),
    ),
    RecordChain("return_schedules", t.tax_return_schedules, "id"),
    RecordChain("tax_tables", t.tax_table_entries, "id"),
    RecordChain("parties", t.parties, "code", (Part(t.outlets, "party_code", ("outlet_code",)),)),
    RecordChain("permits", t.outlet_permits, "seq"),
    RecordChain("penalty_events", t.penalty_basis_events, "id"),
    RecordChain("cities", t.cities, "name", (Part(t.city_years, "city", ("year",)),)),
    RecordChain("policies", t.policies, "key"),
    RecordChain("accounts", t.accounts, "code"),
    RecordChain("instruments", t.instruments, "code"),
    RecordChain("principals", t.principals, "id"),
    RecordChain("tokens", t.api_tokens, "id"),
    RecordChain("enrolments", t.enrolments, "id"),
    RecordChain("approvals", t.approval_requests, "id"),
    RecordChain("periods", t.periods, "label", (Part(t.period_events, "label", ("id",)),)),
    RecordChain(
        "statements",
        t.statement_imports,
        "id",
        (Part(t.statement_lines, "import_id", ("line_no",)),),
    ),
    RecordChain("reconciliations", t.reconciliations, "id"),
    RecordChain(
        "reconciliation_matches",
        t.reconciliation_matches,
        "id",
        (Part(t.reconciliation_match_items, "match_id", ("id",)),),
    ),
    RecordChain("audit", t.audit_log, "seq"),
)
BY_NAME = {chain.name: chain for chain in CHAINS}

_HEAD_AND_TAIL = text(
    "SELECT h.length, h.hash, h.position, c.seq, c.record_key, c.digest, c.previous_hash, c.hash"
    " FROM (SELECT 1 AS one) AS anchor"
    " LEFT JOIN chain_heads h ON h.name = :chain"
    " LEFT JOIN record_chain c ON c.chain = :chain"
    " AND c.seq = (SELECT MAX(seq) FROM record_chain WHERE chain = :chain)"
)
_LINK_COLUMNS = (
    t.record_chain.c.seq,
    t.record_chain.c.record_key,
    t.record_chain.c.digest,
    t.record_chain.c.previous_hash,
    t.record_chain.c.hash,
)


class SqlRecordChainRepository:
    """The record chains, their heads and the queue of changes to seal."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._postgresql = connection.dialect.name == "postgresql"

    @property
    def chains(self) -> tuple[str, ...]:
        return tuple(chain.name for chain in CHAINS)

    # -- the queue ---------------------------------------------------------------------------

    def changes(self, limit: int) -> list[tuple[int, str, str]]:
        """Up to `limit` changes waiting to be sealed, oldest first: (seq, chain, key)."""
        q = t.record_changes.c
        rows = self._connection.execute(
            select(q.seq, q.chain, q.record_key).order_by(q.seq).limit(limit)
        )
        return [(int(seq), chain, key) for seq, chain, key in rows]

    def forget(self, seqs: Sequence[int]) -> None:
        """The changes `seqs` are sealed."""
        if seqs:
            self._connection.execute(
                delete(t.record_changes).where(t.record_changes.c.seq.in_(seqs))
            )

    def queued(self, chain: str, keys: Iterable[str]) -> set[str]:
        """Which of `keys` have a change of theirs waiting to be sealed."""
        q = t.record_changes.c
        wanted = list(set(keys))
        if not wanted:
            return set()
        rows = self._connection.execute(
            select(q.record_key).where(q.chain == chain, q.record_key.in_(wanted)).distinct()
        )
        return set(rows.scalars())

    def stale_change(self, chain: str, grace: timedelta) -> tuple[str, datetime] | None:
        """A change of `chain` waiting longer than `grace` to be sealed, by the database's clock
        (the triggers' clock): (key, when it was made)."""
        q = t.record_changes.c
        seconds = int(grace.total_seconds())
        if self._postgresql:
            before: Any = text(f"clock_timestamp() - interval '{seconds} seconds'")
        else:
            before = text(f"strftime('%Y-%m-%d %H:%M:%f000', 'now', '-{seconds} seconds')")
        row = self._connection.execute(
            select(q.record_key, q.changed_at)
            .where(q.chain == chain, q.changed_at < before)
            .order_by(q.seq)
            .limit(1)
        ).first()
        return None if row is None else (row[0], row[1])

    # -- the records -------------------------------------------------------------------------

    def contents(self, chain: str, keys: Iterable[str]) -> dict[str, dict[str, Any] | None]:
        """Each record of `keys` as it now is (its columns, and its parts' rows by table), or
        None if there is no such record."""
        definition = BY_NAME[chain]
        wanted = list(dict.fromkeys(keys))
        typed = _typed(definition, wanted)
        found: dict[str, dict[str, Any] | None] = dict.fromkeys(wanted)
        if not typed:
            return found
        column = definition.table.c[definition.key]
        for row in self._connection.execute(select(definition.table).where(column.in_(typed))):
            record = dict(row._mapping)
            found[str(record[definition.key])] = record
        for part in definition.parts:
            parent = part.table.c[part.parent]
            grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
            rows = self._connection.execute(
                select(part.table)
                .where(parent.in_(typed))
                .order_by(*(part.table.c[name] for name in part.order))
            )
            for row in rows:
                mapping = dict(row._mapping)
                grouped[str(mapping[part.parent])].append(mapping)
            for key, existing in found.items():
                if existing is not None:
                    existing[part.table.name] = grouped.get(key, [])
        return found

    def first_unaccounted(self, chain: str) -> str | None:
        """A record of `chain` that no link seals and no queued change names."""
        definition = BY_NAME[chain]
        key = cast(definition.table.c[definition.key], String)
        c, q = t.record_chain.c, t.record_changes.c
        row = self._connection.execute(
            select(key)
            .where(
                ~exists().where(and_(c.chain == chain, c.record_key == key)),
                ~exists().where(and_(q.chain == chain, q.record_key == key)),
            )
            .limit(1)
        ).first()
        return None if row is None else str(row[0])

    # -- links and heads ---------------------------------------------------------------------

    def latest(self, chain: str, keys: Iterable[str]) -> dict[str, str]:
        """The digest each of `keys` was last sealed with (absent: never sealed)."""
        c = t.record_chain.c
        wanted = list(set(keys))
        if not wanted:
            return {}
        rows = self._connection.execute(
            select(c.record_key, c.digest)
            .where(c.chain == chain, c.record_key.in_(wanted))
            .order_by(c.seq)
        )
        return {key: digest.strip() for key, digest in rows}  # the last wins

    def links(self, chain: str, after: int, limit: int) -> list[tuple[RecordLink, bool]]:
        """Links after seq `after`, in order, each with whether it is its record's latest."""
        c = t.record_chain.c
        later = t.record_chain.alias("later")
        newest = ~exists().where(
            and_(
                later.c.chain == c.chain,
                later.c.record_key == c.record_key,
                later.c.seq > c.seq,
            )
        )
        rows = self._connection.execute(
            select(*_LINK_COLUMNS, newest.label("latest"))
            .where(c.chain == chain, c.seq > after)
            .order_by(c.seq)
            .limit(limit)
        )
        return [(_link(*row[:5]), bool(row[5])) for row in rows]

    def link_at(self, chain: str, seq: int) -> RecordLink | None:
        c = t.record_chain.c
        row = self._connection.execute(
            select(*_LINK_COLUMNS).where(c.chain == chain, c.seq == seq)
        ).first()
        return None if row is None else _link(*row)

    def head_and_tail(self, chain: str) -> tuple[ChainHead, RecordLink | None]:
        """The head as recorded and the last link, read in one statement (one snapshot)."""
        row = self._connection.execute(_HEAD_AND_TAIL, {"chain": chain}).first()
        assert row is not None  # the anchor row is always there
        head = ChainHead(0, GENESIS_HASH, 0) if row[0] is None else _head(*row[:3])
        return head, None if row[3] is None else _link(*row[3:])

    def head(self, chain: str, *, lock: bool = False) -> ChainHead:
        """The head as recorded (the genesis if none); with `lock`, sealers queue behind it."""
        h = t.chain_heads.c
        if lock:
            insert_ = postgresql_insert if self._postgresql else sqlite_insert
            self._connection.execute(
                insert_(t.chain_heads)
                .values(name=chain, length=0, hash=GENESIS_HASH, position=0)
                .on_conflict_do_nothing()
            )
        query = select(h.length, h.hash, h.position).where(h.name == chain)
        row = self._connection.execute(query.with_for_update() if lock else query).first()
        return ChainHead(0, GENESIS_HASH, 0) if row is None else _head(*row)

    def append(self, chain: str, links: Sequence[RecordLink], sealed_at: datetime) -> None:
        """Append `links` and move the head (its row is locked by `head(lock=True)`)."""
        if not links:
            return
        self._connection.execute(
            insert(t.record_chain),
            [
                {
                    "chain": chain,
                    "seq": link.seq,
                    "record_key": link.key,
                    "digest": link.digest,
                    "previous_hash": link.previous_hash,
                    "hash": link.hash,
                    "sealed_at": sealed_at,
                }
                for link in links
            ],
        )
        self._connection.execute(
            update(t.chain_heads)
            .where(t.chain_heads.c.name == chain)
            .values(length=links[-1].seq, hash=links[-1].hash, sealed_at=sealed_at)
        )


def _head(length: int, hash_: str, position: int) -> ChainHead:
    return ChainHead(int(length), hash_.strip(), int(position))


def _typed(definition: RecordChain, keys: Sequence[str]) -> list[Any]:
    if not definition.integer_key:
        return list(keys)
    return [int(key) for key in keys if is_digits(key)]


def _link(seq: int, key: str, digest: str, previous_hash: str, hash_: str) -> RecordLink:
    return RecordLink(int(seq), key, digest.strip(), previous_hash.strip(), hash_.strip())
