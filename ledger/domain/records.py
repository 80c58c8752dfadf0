"""Tamper evidence for the business records: one hash chain per kind of record.

Journal entries never change, so their chain seals each entry itself. Business records do change
(a trade's state, a principal's role, a token's revocation), so their chains seal *versions*: a
link names a record by its key and carries the digest of what the record said when it was
sealed, `digest = SHA-256(canonical record)` (a record and the rows that belong to it, such as a
trade and its events, a report and its lines); `hash = SHA-256(previous_hash ‖ [chain, key,
digest])`. Every change of a record is sealed as a new link of its chain; a record deleted is
sealed as `DELETED`. Verify recomputes every link, and compares every record with its latest
link: a record edited behind the ledger's back no longer has the digest its chain sealed.

Pure: the same functions seal and verify.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ledger.domain.chain import (
    GENESIS_HASH,
    Anchor,
    ChainBreak,
    ChainHead,
    ChainProblem,
)
from ledger.domain.entries import instant_text

DELETED = "0" * 64  # the digest of a record that no longer exists
_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _canonical_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return instant_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): _canonical_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical_value(item) for item in value]
    return value


def record_digest(content: Mapping[str, Any] | None) -> str:
    """SHA-256 of a record's canonical JSON (its columns, and its parts' rows in order);
    `DELETED` if there is no such record."""
    if content is None:
        return DELETED
    text = _CANONICAL_JSON.encode(_canonical_value(content))
    return hashlib.sha256(text.encode()).hexdigest()


def record_link_hash(previous_hash: str, chain: str, key: str, digest: str) -> str:
    """SHA-256(previous_hash ‖ [chain, key, digest]), hex."""
    text = _CANONICAL_JSON.encode([chain, key, digest])
    return hashlib.sha256((previous_hash + text).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class RecordLink:
    """One link of a record chain: the version of the record `key` sealed at `seq`."""

    seq: int
    key: str
    digest: str
    previous_hash: str
    hash: str


def extend_records(
    chain: str, tail: RecordLink | None, versions: list[tuple[str, str]]
) -> list[RecordLink]:
    """The links that seal `versions` ((key, digest), in order) after `tail`."""
    seq = 0 if tail is None else tail.seq
    previous = GENESIS_HASH if tail is None else tail.hash
    links = []
    for key, digest in versions:
        seq += 1
        digest_hash = record_link_hash(previous, chain, key, digest)
        links.append(RecordLink(seq, key, digest, previous, digest_hash))
        previous = digest_hash
    return links


def head_of(tail: RecordLink | None) -> ChainHead:
    return ChainHead(0, GENESIS_HASH, 0) if tail is None else ChainHead(tail.seq, tail.hash, 0)


class RecordWalker:
    """Recomputes a record chain link by link from seq 1, checking the links `anchors` name;
    stops at the first break."""

    def __init__(
        self,
        chain: str,
        anchors: Mapping[int, Anchor] | None = None,
        start: RecordLink | None = None,
    ) -> None:
        self.chain = chain
        self.checked = 0
        self.broken: ChainBreak | None = None
        self.last_seq = 0 if start is None else start.seq
        self.last_hash = GENESIS_HASH if start is None else start.hash
        self._anchors = anchors or {}

    def check(self, link: RecordLink) -> ChainBreak | None:
        """The break at this link, if any (then the walk is over)."""
        assert self.broken is None, "the walk stopped at the first break"
        expected = self.last_seq + 1
        if link.seq != expected:
            return self._break(expected, None, ChainProblem.GAP, f"link {expected} is missing")
        if link.previous_hash != self.last_hash:
            return self._break(
                link.seq,
                link.key,
                ChainProblem.PREVIOUS_HASH_MISMATCH,
                "the link does not point at the hash of the link before it",
            )
        if record_link_hash(self.last_hash, self.chain, link.key, link.digest) != link.hash:
            return self._break(
                link.seq,
                link.key,
                ChainProblem.HASH_MISMATCH,
                "the link's hash does not recompute from its record and digest: rewritten",
            )
        anchor = self._anchors.get(link.seq)
        if anchor is not None and anchor.hash != link.hash:
            return self._break(
                link.seq,
                link.key,
                ChainProblem.CHECKPOINT_MISMATCH,
                f"link {link.seq} hashes to {link.hash[:16]}… but {anchor.source} recorded "
                f"{anchor.hash[:16]}…: the chain up to here was recomputed after that checkpoint",
            )
        self.checked += 1
        self.last_seq = link.seq
        self.last_hash = link.hash
        return None

    def truncation(self) -> ChainBreak | None:
        """After the walk: an anchored link beyond the chain's end (links were removed)."""
        beyond = [seq for seq in self._anchors if seq > self.last_seq]
        if self.broken is not None or not beyond:
            return None
        seq = max(beyond)
        return ChainBreak(
            None,
            None,
            ChainProblem.TRUNCATED,
            f"the chain ends at link {self.last_seq} but {self._anchors[seq].source} recorded "
            f"link {seq}: links were removed from its end",
        )

    def _break(
        self, seq: int | None, key: str | None, problem: ChainProblem, detail: str
    ) -> ChainBreak:
        self.broken = ChainBreak(seq, key, problem, detail)
        return self.broken


def version_break(link: RecordLink, current: str, *, queued: bool) -> ChainBreak | None:
    """The record at the latest link of its key no longer has the digest sealed there (unless a
    change of it waits to be sealed)."""
    if current == link.digest or queued:
        return None
    if current == DELETED:
        return ChainBreak(
            link.seq,
            link.key,
            ChainProblem.RECORD_MISSING,
            "the record was sealed here and no longer exists",
        )
    return ChainBreak(
        link.seq,
        link.key,
        ChainProblem.RECORD_CHANGED,
        f"the record hashes to {current[:16]}… but its latest link sealed {link.digest[:16]}…: "
        "it changed behind the ledger's back",
    )
