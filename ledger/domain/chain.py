"""Tamper evidence: journal entries chained by hash along a gap-free chain sequence.

hash = SHA-256(previous_hash ‖ canonical entry), starting from `GENESIS_HASH` at chain_seq 1.
Entries are chained once each in seq order (chain_seq is still not the entry's seq: seqs have
gaps), so every entry up to the one at the last link must be in the chain. Pure: the same
functions seal and verify.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
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


class SealRefused(Exception):
    """A sealer will not extend a chain as it stands (its head disagrees with its links, it lost
    a link the sealer saw or a checkpoint names, …); verify says why in full."""


@dataclass(frozen=True, slots=True)
class ChainLink:
    """One link: the entry at chain_seq, the hash before it and its own."""

    chain_seq: int
    entry_seq: int
    previous_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class ChainHead:
    """Where a chain ends, as its sealer recorded it: links so far, the last hash and (journal)
    the seq of the last entry chained. Verify compares it with the links themselves."""

    length: int
    hash: str
    position: int

    @classmethod
    def of(cls, tail: ChainLink | None) -> ChainHead:
        if tail is None:
            return cls(0, GENESIS_HASH, 0)
        return cls(tail.chain_seq, tail.hash, tail.entry_seq)


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
    """What is wrong with a chain: at a link, at its head, or with a record it does not hold."""

    GAP = "gap_in_chain_seq"
    PREVIOUS_HASH_MISMATCH = "previous_hash_mismatch"
    MISSING_ENTRY = "missing_entry"
    HASH_MISMATCH = "hash_mismatch"
    OUT_OF_ORDER = "entry_out_of_order"
    HEAD_MISMATCH = "head_mismatch"
    CHECKPOINT_MISMATCH = "checkpoint_mismatch"
    TRUNCATED = "chain_truncated"
    UNACCOUNTED = "entry_not_accounted_for"
    NOT_CHAINED = "entry_not_chained"
    RECORD_CHANGED = "record_changed"
    RECORD_MISSING = "record_missing"
    RECORD_UNACCOUNTED = "record_not_accounted_for"
    RECORD_NOT_CHAINED = "record_not_chained"


# What the operator does about each problem (printed by verify beside the cause).
ACTIONS = {
    ChainProblem.GAP: "links were deleted: restore the database from a backup taken before the "
    "gap and compare it with this one to find what else changed",
    ChainProblem.PREVIOUS_HASH_MISMATCH: "a link was rewritten: restore the database from a "
    "backup and compare; the chain before this link is intact",
    ChainProblem.MISSING_ENTRY: "a sealed entry was deleted: restore it from a backup",
    ChainProblem.HASH_MISMATCH: "the record changed after it was sealed: compare it with a "
    "backup; treat every balance it touches as suspect until restored",
    ChainProblem.OUT_OF_ORDER: "links were reordered or an entry chained twice: restore the "
    "chain from a backup",
    ChainProblem.HEAD_MISMATCH: "the newest links were removed or added behind the sealer: "
    "compare with the latest checkpoint kept outside the database and a backup",
    ChainProblem.CHECKPOINT_MISMATCH: "the chain was rewritten and recomputed after the "
    "checkpoint: restore the database from a backup that agrees with the checkpoint",
    ChainProblem.TRUNCATED: "the newest records and their links were removed: restore them "
    "from a backup taken after the checkpoint",
    ChainProblem.UNACCOUNTED: "an entry the chain should hold is not in it (its link was deleted, "
    "or it was written behind the ledger's back): compare with a backup",
    ChainProblem.NOT_CHAINED: "the sealer is not running or refuses (see the server's log): "
    "start `emissions-ledger serve` or run `emissions-ledger seal`",
    ChainProblem.RECORD_CHANGED: "the record was edited after it was sealed: compare it with a "
    "backup and restore what it said",
    ChainProblem.RECORD_MISSING: "a sealed record was deleted: restore it from a backup",
    ChainProblem.RECORD_UNACCOUNTED: "a record was written behind the ledger's back (or its "
    "links were deleted): compare with a backup",
    ChainProblem.RECORD_NOT_CHAINED: "the sealer is not running or refuses (see the server's "
    "log): start `emissions-ledger serve` or run `emissions-ledger seal`",
}


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first problem found in a chain (chain_seq None: not at a link)."""

    chain_seq: int | None
    record: str | None  # the record's id (a journal entry's entry_id)
    problem: ChainProblem
    detail: str

    @property
    def action(self) -> str:
        return ACTIONS[self.problem]


@dataclass(frozen=True, slots=True)
class Anchor:
    """A link's hash as something outside the chain recorded it (a checkpoint)."""

    hash: str
    source: str  # e.g. "checkpoint checkpoint-20261214T080000000000Z.json"


class ChainWalker:
    """Recomputes the chain link by link from `start` (chain_seq 1 by default), checking the
    links `anchors` name; stops at the first break."""

    def __init__(
        self, start: ChainHead | None = None, anchors: Mapping[int, Anchor] | None = None
    ) -> None:
        start = start or ChainHead(0, GENESIS_HASH, 0)
        self.checked = 0
        self.broken: ChainBreak | None = None
        self._expected_seq = start.length + 1
        self._previous = start.hash
        self._entry_seq = start.position  # the seq of the entry at the last link: seqs only grow
        self._anchors = anchors or {}

    @property
    def last_chain_seq(self) -> int:
        return self._expected_seq - 1

    @property
    def last_hash(self) -> str:
        """The hash of the last link checked (GENESIS_HASH: none)."""
        return self._previous

    @property
    def last_entry_seq(self) -> int:
        """The seq of the entry at the last link checked (0: none)."""
        return self._entry_seq

    def check(self, link: ChainLink, record: EntryRecord | None) -> ChainBreak | None:
        """The break at this link, if any (then the walk is over)."""
        assert self.broken is None, "the walk stopped at the first break"
        broken = self._link_break(link, record) or self._content_break(link, record)
        if broken is not None:
            self.broken = broken
            return broken
        self.checked += 1
        self._expected_seq += 1
        self._previous = link.hash
        self._entry_seq = link.entry_seq
        return None

    def _link_break(self, link: ChainLink, record: EntryRecord | None) -> ChainBreak | None:
        entry_id = None if record is None else record.entry_id
        if link.chain_seq != self._expected_seq:
            return ChainBreak(
                self._expected_seq,
                entry_id,
                ChainProblem.GAP,
                f"chain_seq {self._expected_seq} is missing (next is {link.chain_seq})",
            )
        if link.previous_hash != self._previous:
            return ChainBreak(
                link.chain_seq,
                entry_id,
                ChainProblem.PREVIOUS_HASH_MISMATCH,
                "the link does not point at the hash of the link before it",
            )
        return None

    def _content_break(self, link: ChainLink, record: EntryRecord | None) -> ChainBreak | None:
        if record is None:
            return ChainBreak(
                link.chain_seq,
                None,
                ChainProblem.MISSING_ENTRY,
                f"entry seq {link.entry_seq} is chained but no longer exists",
            )
        recomputed = link_hash(self._previous, record)
        if recomputed != link.hash:
            return ChainBreak(
                link.chain_seq,
                record.entry_id,
                ChainProblem.HASH_MISMATCH,
                f"the entry (seq {record.seq}) hashes to {recomputed[:16]}… but the link "
                f"sealed {link.hash[:16]}…: its content or postings changed since sealing",
            )
        if link.entry_seq <= self._entry_seq:
            return ChainBreak(
                link.chain_seq,
                record.entry_id,
                ChainProblem.OUT_OF_ORDER,
                f"entry seq {link.entry_seq} follows entry seq {self._entry_seq}: the sealer "
                "chains entries once each, in seq order",
            )
        return self._anchor_break(link, record.entry_id)

    def _anchor_break(self, link: ChainLink, record: str | None) -> ChainBreak | None:
        anchor = self._anchors.get(link.chain_seq)
        if anchor is None or anchor.hash == link.hash:
            return None
        return ChainBreak(
            link.chain_seq,
            record,
            ChainProblem.CHECKPOINT_MISMATCH,
            f"link {link.chain_seq} hashes to {link.hash[:16]}… but {anchor.source} recorded "
            f"{anchor.hash[:16]}…: the chain up to here was recomputed after that checkpoint",
        )

    def truncation(self) -> ChainBreak | None:
        """After the walk: an anchored link beyond the chain's end (links were removed)."""
        beyond = [seq for seq in self._anchors if seq > self.last_chain_seq]
        if self.broken is not None or not beyond:
            return None
        seq = max(beyond)
        return ChainBreak(
            None,
            None,
            ChainProblem.TRUNCATED,
            f"the chain ends at link {self.last_chain_seq} but {self._anchors[seq].source} "
            f"recorded link {seq} ({self._anchors[seq].hash[:16]}…): links were removed from "
            "its end",
        )


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
