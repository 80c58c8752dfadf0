"""Consistent bulk data: one instrument, accounts, funding entries and transfers, as the ledger
would have written them, loaded with bulk SQL.

Rows are generated once in Python: explicit ids, request hashes computed by the domain's own
`EntryDraft.request_hash`, recorded times strictly increasing, running balances
(`debits_after`/`credits_after`) per account and the final `balances` rows (counters, version =
number of postings, updated_at = last posting). PostgreSQL loads them with COPY, SQLite with
`executemany` in one transaction; `check_invariants` then finds nothing to report.

Accounts: `ISSUANCE` (debit-normal, may go negative) funds every holder `H00000`, `H00001`, ...
(credit-normal, non-negative) with `FUNDING_UNITS` up front; `H00000` is the hot account.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from ledger.domain.access import Actor, Principal, Role
from ledger.domain.accounts import Side
from ledger.domain.amounts import Instrument, InstrumentKind
from ledger.domain.entries import EntryDraft, PostingDraft

INSTRUMENT = Instrument(
    "SO2-2026", "SO2 emission right, vintage 2026", InstrumentKind.EMISSION_RIGHT, "t", 3
)
ISSUANCE_CODE = "ISSUANCE"
ISSUANCE_ID = 1
FUNDING_UNITS = 10**12  # per holder: far more than any run can move out of it
TRANSFER_UNITS_MAX = 1_000  # 1.000 t
ENTRY_SPACING = timedelta(milliseconds=20)  # recorded-time distance between loaded entries
PARTY = "BENCH"
# Who reads the loaded dataset back (balances, the invariant check): a regulator sees every
# account. A read looks no principal up and writes no audit line, so none is registered.
READER = Actor(Principal("bench-reader", "bench reader", Role.REGULATOR, None, None))


def holder_code(index: int) -> str:
    return f"H{index:05d}"


def holder_id(index: int) -> int:
    return ISSUANCE_ID + 1 + index


def sqlite_instant(moment: datetime) -> str:
    """How the ledger's UtcDateTime lands in SQLite: naive UTC, microseconds always present."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


# (id, entry_seq, account_id, side, units, recorded_at, debits_after, credits_after)
PostingRow = tuple[int, int, int, str, int, datetime, int, int]


@dataclass(slots=True)
class Dataset:
    """Rows ready to load; `entries` are (seq, entry_id, request_hash, recorded_at)."""

    created_at: datetime
    holders: int
    entries: list[tuple[int, str, str, datetime]] = field(default_factory=list)
    postings: list[PostingRow] = field(default_factory=list)
    # account id -> [debits_posted, credits_posted, version]; updated_at kept beside it
    counters: dict[int, list[int]] = field(default_factory=dict)
    updated_at: dict[int, datetime] = field(default_factory=dict)

    @property
    def hot_id(self) -> int:
        return holder_id(0)

    def accounts(self) -> Iterator[tuple[int, str, str, bool]]:
        """(id, code, normal side, non-negative) of every account."""
        yield ISSUANCE_ID, ISSUANCE_CODE, Side.DEBIT.value, False
        for index in range(self.holders):
            yield holder_id(index), holder_code(index), Side.CREDIT.value, True

    def code_of(self, account_id: int) -> str:
        return ISSUANCE_CODE if account_id == ISSUANCE_ID else holder_code(account_id - 2)

    def balances(self) -> Iterator[tuple[int, str, bool, int, int, int, datetime]]:
        """(account id, normal side, non-negative, debits, credits, version, updated_at)."""
        for account_id, _, side, non_negative in self.accounts():
            if account_id in self.counters:
                debits, credits, version = self.counters[account_id]
                yield (
                    account_id,
                    side,
                    non_negative,
                    debits,
                    credits,
                    version,
                    self.updated_at[account_id],
                )

    def recorded_span(self) -> tuple[datetime, datetime]:
        """First and last recorded time of the loaded entries (the hot account's span too)."""
        return self.entries[0][3], self.entries[-1][3]

    def _add(
        self, entry_id: str, debit_id: int, credit_id: int, units: int, recorded_at: datetime
    ) -> None:
        seq = len(self.entries) + 1
        draft = EntryDraft(
            entry_id=entry_id,
            entry_type="transfer",
            postings=(
                PostingDraft(self.code_of(debit_id), INSTRUMENT.code, Side.DEBIT, units),
                PostingDraft(self.code_of(credit_id), INSTRUMENT.code, Side.CREDIT, units),
            ),
        )
        self.entries.append((seq, entry_id, draft.request_hash(), recorded_at))
        for account_id, side in ((debit_id, Side.DEBIT), (credit_id, Side.CREDIT)):
            counter = self.counters.setdefault(account_id, [0, 0, 0])
            counter[0 if side is Side.DEBIT else 1] += units
            counter[2] += 1
            self.updated_at[account_id] = recorded_at
            self.postings.append(
                (
                    len(self.postings) + 1,
                    seq,
                    account_id,
                    side.value,
                    units,
                    recorded_at,
                    counter[0],
                    counter[1],
                )
            )


def generate(holders: int, transfers: int, hot_transfers: int, seed: int) -> Dataset:
    """Fund `holders` accounts, then `transfers` random transfers between them, of which
    `hot_transfers` (spread evenly) move units out of or into the hot account `H00000`."""
    assert holders >= 3, holders
    assert 0 <= hot_transfers <= transfers, (hot_transfers, transfers)
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - ENTRY_SPACING * (holders + transfers) - timedelta(hours=1)
    data = Dataset(created_at=start - timedelta(days=1), holders=holders)
    moment = start
    for index in range(holders):
        data._add(f"fund-{index:05d}", ISSUANCE_ID, holder_id(index), FUNDING_UNITS, moment)
        moment += ENTRY_SPACING
    hot_seen = 0
    for number in range(transfers):
        units = rng.randint(1, TRANSFER_UNITS_MAX)
        # Others are holders 1..n-1, so the hot account gets exactly `hot_transfers` postings.
        other = holder_id(rng.randrange(1, holders))
        if (number * hot_transfers) // transfers < ((number + 1) * hot_transfers) // transfers:
            source, destination = data.hot_id, other
            if hot_seen % 2:
                source, destination = other, data.hot_id
            hot_seen += 1
        else:
            source = other
            destination = holder_id(rng.randrange(1, holders - 1))
            if destination >= source:
                destination += 1
        data._add(f"load-{number:09d}", source, destination, units, moment)
        moment += ENTRY_SPACING
    assert hot_seen == hot_transfers, (hot_seen, hot_transfers)
    return data


# -- loading -------------------------------------------------------------------------------


def load(backend: str, raw: str, data: Dataset) -> float:
    """Write the dataset into an empty migrated database; returns the seconds it took."""
    started = time.perf_counter()
    if backend == "postgresql":
        _load_postgresql(raw, data)
    else:
        _load_sqlite(raw, data)
    return time.perf_counter() - started


_ENTRY_COLUMNS = (
    "seq, entry_id, request_hash, entry_type, status, effective_at, recorded_at, memo, metadata"
)
_POSTING_COLUMNS = (
    "id, entry_seq, account_id, instrument_code, side, units, pending, recorded_at, "
    "effective_at, debits_after, credits_after"
)
_BALANCE_COLUMNS = (
    "account_id, instrument_code, normal_side, non_negative, debits_posted, credits_posted, "
    "debits_pending, credits_pending, version, updated_at"
)
_ACCOUNT_COLUMNS = (
    "id, code, party, name, normal_side, non_negative, instrument_code, frozen, closed, created_at"
)
_INSTRUMENT_COLUMNS = "code, name, kind, unit, scale, created_at"


def _instrument_row(stamp: Any) -> tuple[Any, ...]:
    return (
        INSTRUMENT.code,
        INSTRUMENT.name,
        INSTRUMENT.kind.value,
        INSTRUMENT.unit,
        INSTRUMENT.scale,
        stamp,
    )


def _load_postgresql(conninfo: str, data: Dataset) -> None:
    code = INSTRUMENT.code
    with psycopg.connect(conninfo) as connection:
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO instruments ({_INSTRUMENT_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s)",
                _instrument_row(data.created_at),
            )
            with cursor.copy(f"COPY accounts ({_ACCOUNT_COLUMNS}) FROM STDIN") as copy:
                for account_id, account_code, side, non_negative in data.accounts():
                    copy.write_row(
                        (
                            account_id,
                            account_code,
                            PARTY,
                            f"{account_code} holdings",
                            side,
                            non_negative,
                            None,
                            False,
                            False,
                            data.created_at,
                        )
                    )
        connection.commit()
        # Chunked so the deferred "entry balanced" trigger queue stays bounded per commit.
        for chunk in _chunks(data.entries, 100_000):
            first, last = chunk[0][0], chunk[-1][0]
            with connection.cursor() as cursor:
                with cursor.copy(f"COPY entries ({_ENTRY_COLUMNS}) FROM STDIN") as copy:
                    for seq, entry_id, request_hash, moment in chunk:
                        copy.write_row(
                            (
                                seq,
                                entry_id,
                                request_hash,
                                "transfer",
                                "posted",
                                moment,
                                moment,
                                "",
                                "{}",
                            )
                        )
                with cursor.copy(f"COPY postings ({_POSTING_COLUMNS}) FROM STDIN") as copy:
                    for row in _postings_between(data.postings, first, last):
                        copy.write_row(
                            (
                                row[0],
                                row[1],
                                row[2],
                                code,
                                row[3],
                                row[4],
                                False,
                                row[5],
                                row[5],
                                row[6],
                                row[7],
                            )
                        )
            connection.commit()
        with connection.cursor() as cursor:
            with cursor.copy(f"COPY balances ({_BALANCE_COLUMNS}) FROM STDIN") as copy:
                for account_id, side, non_negative, debits, credits, version, at in data.balances():
                    copy.write_row(
                        (account_id, code, side, non_negative, debits, credits, 0, 0, version, at)
                    )
            for table, column in (("accounts", "id"), ("entries", "seq"), ("postings", "id")):
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'),"
                    f" (SELECT max({column}) FROM {table}))"
                )
        connection.commit()
        # What autovacuum would do shortly after a load; makes the plans deterministic.
        connection.execute("ANALYZE")
        connection.commit()


def _chunks(
    rows: Sequence[tuple[int, str, str, datetime]], size: int
) -> Iterator[Sequence[tuple[int, str, str, datetime]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _postings_between(
    postings: Sequence[PostingRow], first_seq: int, last_seq: int
) -> Iterator[PostingRow]:
    # Every entry has exactly two postings, numbered in entry order.
    yield from postings[2 * (first_seq - 1) : 2 * last_seq]


def _load_sqlite(path: str, data: Dataset) -> None:
    code = INSTRUMENT.code
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA foreign_keys=ON")
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=OFF")  # a bulk load: the store's pragma later
        created = sqlite_instant(data.created_at)
        stamps = [""] + [sqlite_instant(entry[3]) for entry in data.entries]
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(
            f"INSERT INTO instruments ({_INSTRUMENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            _instrument_row(created),
        )
        connection.executemany(
            f"INSERT INTO accounts ({_ACCOUNT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    account_id,
                    account_code,
                    PARTY,
                    f"{account_code} holdings",
                    side,
                    int(non_negative),
                    None,
                    0,
                    0,
                    created,
                )
                for account_id, account_code, side, non_negative in data.accounts()
            ),
        )
        connection.executemany(
            f"INSERT INTO entries ({_ENTRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    seq,
                    entry_id,
                    request_hash,
                    "transfer",
                    "posted",
                    stamps[seq],
                    stamps[seq],
                    "",
                    "{}",
                )
                for seq, entry_id, request_hash, _ in data.entries
            ),
        )
        connection.executemany(
            f"INSERT INTO postings ({_POSTING_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    row[0],
                    row[1],
                    row[2],
                    code,
                    row[3],
                    row[4],
                    0,
                    stamps[row[1]],
                    stamps[row[1]],
                    row[6],
                    row[7],
                )
                for row in data.postings
            ),
        )
        connection.executemany(
            f"INSERT INTO balances ({_BALANCE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    account_id,
                    code,
                    side,
                    int(non_negative),
                    debits,
                    credits,
                    0,
                    0,
                    version,
                    sqlite_instant(at),
                )
                for account_id, side, non_negative, debits, credits, version, at in data.balances()
            ),
        )
        connection.execute("COMMIT")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
