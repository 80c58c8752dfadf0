"""Helpers of the hash-chain and tamper tests: the chain as stored, and tampering as an attacker
with write access to the database would do it.

The immutability triggers refuse any UPDATE or DELETE of the journal and the chain, so the
attacker first gets them out of the way: on PostgreSQL `SET LOCAL session_replication_role =
replica` (a superuser's switch that silences every trigger, foreign keys and the deferred
balance check included, for that transaction only); on SQLite by dropping the tables' triggers.
"""

from __future__ import annotations

from sqlalchemy import text

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
