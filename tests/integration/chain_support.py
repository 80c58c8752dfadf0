"""Helpers of the hash-chain and tamper tests: the chain as stored, and tampering as an attacker
with write access to the database would do it.

The immutability triggers refuse any UPDATE or DELETE of the journal and the chain, so the
attacker first gets them out of the way: on PostgreSQL `SET LOCAL session_replication_role =
replica` (a superuser's switch that silences every trigger, foreign keys and the deferred
balance check included, for that transaction only); on SQLite by dropping the tables' triggers.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text

from ledger.domain.chain import ChainHead, extend
from ledger.persistence.store import Store


def chain_rows(store: Store) -> list[tuple[int, str, str, str]]:
    """(chain_seq, entry_id, previous_hash, hash) in chain order."""
    with store.engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT c.chain_seq, e.entry_id, c.previous_hash, c.hash FROM journal_chain c"
                " JOIN entries e ON e.seq = c.entry_seq ORDER BY c.chain_seq"
            )
        ).all()
    return [(row[0], row[1], row[2].strip(), row[3].strip()) for row in rows]


def head_row(store: Store) -> tuple[int, str, int] | None:
    """The journal chain's head as stored: (length, hash, position)."""
    with store.engine.connect() as connection:
        row = connection.execute(
            text("SELECT length, hash, position FROM chain_heads WHERE name = 'journal'")
        ).first()
    return None if row is None else (row[0], row[1].strip(), row[2])


def chain_seq_of(store: Store, entry_id: str) -> int:
    return next(seq for seq, entry, _, _ in chain_rows(store) if entry == entry_id)


def seq_of(entry_id: str) -> str:
    """SQL for the seq of the entry `entry_id`."""
    return f"(SELECT seq FROM entries WHERE entry_id = '{entry_id}')"


def tamper(store: Store, *statements: str) -> None:
    """Run `statements` in one transaction with every guard trigger out of the way."""
    with store.engine.begin() as connection:
        if store.engine.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            triggers = connection.execute(
                text("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            ).scalars()
            for trigger in list(triggers):
                connection.execute(text(f'DROP TRIGGER "{trigger}"'))
        for statement in statements:
            connection.execute(text(statement))


def swap_chain_positions(store: Store, first_entry: str, second_entry: str) -> tuple[int, int]:
    """Swap two entries' places in the chain, keeping every stored hash: (first, second)
    chain_seq, where the second entry now sits at the first's place and vice versa."""
    first, second = chain_seq_of(store, first_entry), chain_seq_of(store, second_entry)
    rows = {seq: (previous, digest) for seq, _, previous, digest in chain_rows(store)}
    inserts = []
    for seq, entry in ((first, second_entry), (second, first_entry)):
        previous, digest = rows[seq]
        inserts.append(
            "INSERT INTO journal_chain (chain_seq, entry_seq, previous_hash, hash, sealed_at)"
            f" VALUES ({seq}, {seq_of(entry)}, '{previous}', '{digest}', CURRENT_TIMESTAMP)"
        )
    tamper(store, f"DELETE FROM journal_chain WHERE chain_seq IN ({first}, {second})", *inserts)
    return first, second


def forge_entry(store: Store, entry_id: str, seq: int, recorded_at: datetime) -> None:
    """Insert a balanced entry of 1 t from ISSUANCE to ALPHA behind the ledger's back (with the
    seq and recorded time the attacker chooses), and move the balances to match."""
    moment = f"'{recorded_at.strftime('%Y-%m-%d %H:%M:%S.%f')}'"
    account = "(SELECT id FROM accounts WHERE code = '{}')"
    posting = (
        "INSERT INTO postings (entry_seq, account_id, instrument_code, side, units, pending,"
        " recorded_at, effective_at, debits_after, credits_after)"
        f" VALUES ({seq}, {account}, 'SO2-2026', '{{}}', 1000, false, {moment}, {moment}, 0, 0)"
    )
    tamper(
        store,
        "INSERT INTO entries (seq, entry_id, request_hash, entry_type, status, effective_at,"
        f" recorded_at, memo, metadata) VALUES ({seq}, '{entry_id}', '{'0' * 64}', 'transfer',"
        f" 'posted', {moment}, {moment}, '', '{{}}')",
        posting.format("ISSUANCE", "debit"),
        posting.format("ALPHA", "credit"),
        "UPDATE balances SET debits_posted = debits_posted + 1000"
        f" WHERE account_id = {account.format('ISSUANCE')}",
        "UPDATE balances SET credits_posted = credits_posted + 1000"
        f" WHERE account_id = {account.format('ALPHA')}",
    )


def recompute_chain(store: Store) -> None:
    """Rebuild the journal's chain over the entries as they now stand, as an attacker with the
    ledger's source code would after editing them: every link and the head consistent."""
    with store() as uow:
        records = uow.chain.entries_above(0, up_to=2**63 - 1, limit=1_000_000)
    links = extend(None, records)
    inserts = [
        "INSERT INTO journal_chain (chain_seq, entry_seq, previous_hash, hash, sealed_at)"
        f" VALUES ({link.chain_seq}, {link.entry_seq}, '{link.previous_hash}', '{link.hash}',"
        " CURRENT_TIMESTAMP)"
        for link in links
    ]
    head = ChainHead.of(links[-1] if links else None)
    tamper(
        store,
        "DELETE FROM journal_chain",
        *inserts,
        f"UPDATE chain_heads SET length = {head.length}, hash = '{head.hash}',"
        f" position = {head.position} WHERE name = 'journal'",
    )


def truncate_journal(store: Store, entry_ids: list[str]) -> None:
    """Delete the newest entries `entry_ids` with their postings, references and links, set the
    balances back to what the remaining postings say, and move the head back to the link before
    them: a ledger that is whole and consistent, only shorter."""
    seqs = ", ".join(seq_of(entry_id) for entry_id in entry_ids)
    tamper(
        store,
        f"DELETE FROM journal_chain WHERE entry_seq IN ({seqs})",
        f"DELETE FROM postings WHERE entry_seq IN ({seqs})",
        f"DELETE FROM entry_references WHERE entry_seq IN ({seqs})",
        f"DELETE FROM entries WHERE seq IN ({seqs})",
        *(
            f"UPDATE balances SET {side}s_posted = (SELECT COALESCE(SUM(p.units), 0)"
            " FROM postings p WHERE p.account_id = balances.account_id"
            f" AND p.instrument_code = balances.instrument_code AND p.side = '{side}'"
            " AND NOT p.pending)"
            for side in ("debit", "credit")
        ),
    )
    rows = chain_rows(store)
    last = rows[-1]
    tamper(
        store,
        f"UPDATE chain_heads SET length = {last[0]}, hash = '{last[3]}',"
        f" position = {seq_of(last[1])} WHERE name = 'journal'",
    )
