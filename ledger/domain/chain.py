"""Tamper evidence: journal entries chained by hash along a gap-free chain sequence.

hash = SHA-256(previous_hash ‖ canonical entry), starting from `GENESIS_HASH` at chain_seq 1.
The chain order is the order in which entries were sealed (an entry committed later with a
lower seq is simply chained later), which is why chain_seq is not the entry's seq. Pure: the
same functions seal and verify.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from ledger.domain.entries import EntryRecord, instant_text

GENESIS_HASH = "0" * 64
# Sorted keys, no whitespace, UTF-8 as is: json.dumps with these arguments, built once.
_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_entry(record: EntryRecord) -> dict[str, Any]:
    """Everything an entry says, in a form that always serializes the same way."""
    return {
        "entry_id": record.entry_id,
        "request_hash": record.request_hash,
        "entry_type": record.entry_type,
        "status": record.status.value,
        "effective_at": instant_text(record.effective_at),
        "recorded_at": instant_text(record.recorded_at),
        "memo": record.memo,
        "metadata": record.metadata,
        "references": [[r.kind, r.id] for r in record.references],
        "reverses_entry_id": record.reverses_entry_id,
        "pending_entry_id": record.pending_entry_id,
        "expires_at": instant_text(record.expires_at),
        "postings": [
            [p.account_code, p.instrument_code, p.side.value, p.units] for p in record.postings
        ],
    }


def link_hash(previous_hash: str, record: EntryRecord) -> str:
    """SHA-256(previous_hash ‖ canonical entry), hex."""
    text = _CANONICAL_JSON.encode(canonical_entry(record))
    return hashlib.sha256((previous_hash + text).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainLink:
    """One link: the entry at chain_seq, the hash before it and its own."""

    chain_seq: int
    entry_seq: int
    previous_hash: str
    hash: str


def extend(tail: ChainLink | None, records: Iterable[EntryRecord]) -> list[ChainLink]:
    """The links that chain `records`, in the given order, after `tail` (None: an empty chain)."""
    chain_seq = 0 if tail is None else tail.chain_seq
    previous = GENESIS_HASH if tail is None else tail.hash
    links = []
    for record in records:
        chain_seq += 1
        digest = link_hash(previous, record)
        links.append(ChainLink(chain_seq, record.seq, previous, digest))
        previous = digest
    return links


class ChainProblem(Enum):
    """What is wrong at the first broken link."""

    GAP = "gap_in_chain_seq"
    PREVIOUS_HASH_MISMATCH = "previous_hash_mismatch"
    MISSING_ENTRY = "missing_entry"
    HASH_MISMATCH = "hash_mismatch"
    NOT_CHAINED = "entry_not_chained"


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first broken link (chain_seq is None for an entry that was never chained)."""

    chain_seq: int | None
    entry_id: str | None
    problem: ChainProblem
    detail: str


class ChainWalker:
    """Recomputes the chain link by link from chain_seq 1; stops at the first break."""

    def __init__(self) -> None:
        self.checked = 0
        self.broken: ChainBreak | None = None
        self._expected_seq = 1
        self._previous = GENESIS_HASH

    @property
    def last_chain_seq(self) -> int:
        return self._expected_seq - 1

    def check(self, link: ChainLink, record: EntryRecord | None) -> ChainBreak | None:
        """The break at this link, if any (then the walk is over)."""
        assert self.broken is None, "the walk stopped at the first break"
        entry_id = None if record is None else record.entry_id
        if link.chain_seq != self._expected_seq:
            return self._break(
                ChainBreak(
                    self._expected_seq,
                    entry_id,
                    ChainProblem.GAP,
                    f"chain_seq {self._expected_seq} is missing (next is {link.chain_seq})",
                )
            )
        if link.previous_hash != self._previous:
            return self._break(
                ChainBreak(
                    link.chain_seq,
                    entry_id,
                    ChainProblem.PREVIOUS_HASH_MISMATCH,
                    "the link does not point at the hash of the link before it",
                )
            )
        if record is None:
            return self._break(
                ChainBreak(
                    link.chain_seq,
                    None,
                    ChainProblem.MISSING_ENTRY,
                    f"entry seq {link.entry_seq} is chained but no longer exists",
                )
            )
        recomputed = link_hash(self._previous, record)
        if recomputed != link.hash:
            return self._break(
                ChainBreak(
                    link.chain_seq,
                    record.entry_id,
                    ChainProblem.HASH_MISMATCH,
                    f"the entry (seq {record.seq}) hashes to {recomputed[:16]}… but the link "
                    f"sealed {link.hash[:16]}…: its content or postings changed since sealing",
                )
            )
        self.checked += 1
        self._expected_seq += 1
        self._previous = link.hash
        return None

    def _break(self, broken: ChainBreak) -> ChainBreak:
        self.broken = broken
        return broken


def explain_hash_mismatch(
    broken: ChainBreak, record: EntryRecord, following: Iterable[ChainLink]
) -> ChainBreak:
    """`broken` with a sharper detail if `record` is intact but was sealed at a later link
    among `following`: then entries were moved (reordered) in the chain, not edited."""
    for link in following:
        if link.entry_seq != record.seq and link_hash(link.previous_hash, record) == link.hash:
            return replace(
                broken,
                detail=f"the entry (seq {record.seq}) is intact but was sealed at chain_seq "
                f"{link.chain_seq}: entries were reordered in the chain",
            )
    return broken
