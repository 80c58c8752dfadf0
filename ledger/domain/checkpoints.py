"""Checkpoints: where each hash chain ended at a moment, kept outside the database.

A checkpoint names, per chain, its length (the last chain_seq) and the hash of that link, and
when it was taken; it carries the SHA-256 of its canonical JSON and, when the operator configured
a key, an HMAC-SHA256 with it. Kept where the database's administrators cannot rewrite it (a
directory on another machine, a write-once bucket, a printout), it anchors the chains: a chain
cut short is missing a link a checkpoint names, and a chain recomputed after an edit has another
hash there. Without a key, anyone who can write the checkpoints can forge one that agrees with
a forged chain: the hash only shows that a file was damaged.

Pure: the format, its digest and its check; files are read and written by the services.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

FORMAT = "emissions-ledger-checkpoint/1"
_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class CheckpointInvalid(Exception):
    """A checkpoint that is not one: unreadable, damaged, or not signed with the key."""


@dataclass(frozen=True, slots=True)
class ChainPoint:
    """A chain's end at the checkpoint: its last link's chain_seq and hash."""

    length: int
    head: str


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Where every chain ended at `taken_at`."""

    taken_at: datetime
    chains: Mapping[str, ChainPoint]

    def body(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "taken_at": self.taken_at.astimezone(UTC).isoformat(),
            "chains": {
                name: {"length": point.length, "head": point.head}
                for name, point in sorted(self.chains.items())
            },
        }

    def text(self, key: bytes | None = None) -> str:
        """The checkpoint as one line of JSON: its body, its SHA-256 and (with a key) its HMAC."""
        body = self.body()
        canonical = _CANONICAL_JSON.encode(body).encode()
        sealed = {**body, "sha256": hashlib.sha256(canonical).hexdigest()}
        if key is not None:
            sealed["hmac_sha256"] = hmac.new(key, canonical, hashlib.sha256).hexdigest()
        return _CANONICAL_JSON.encode(sealed)

    @property
    def name(self) -> str:
        """A file name that sorts in time order."""
        return f"checkpoint-{self.taken_at.astimezone(UTC):%Y%m%dT%H%M%S%fZ}.json"


def parse_checkpoint(text: str, key: bytes | None = None) -> Checkpoint:
    """The checkpoint in `text`, checked: its SHA-256, and its HMAC when a key is given (then a
    checkpoint without one is refused)."""
    try:
        sealed = json.loads(text)
        body = {name: sealed[name] for name in ("format", "taken_at", "chains")}
        digest = sealed["sha256"]
        if body["format"] != FORMAT:
            raise CheckpointInvalid(f"unknown format {body['format']!r}")
        chains = {
            str(name): ChainPoint(int(point["length"]), str(point["head"]))
            for name, point in body["chains"].items()
        }
        taken_at = datetime.fromisoformat(body["taken_at"]).astimezone(UTC)
    except CheckpointInvalid:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise CheckpointInvalid(f"not a checkpoint: {error}") from error
    canonical = _CANONICAL_JSON.encode(body).encode()
    if not hmac.compare_digest(str(digest), hashlib.sha256(canonical).hexdigest()):
        raise CheckpointInvalid("its SHA-256 does not match its content: the file was changed")
    if key is not None:
        expected = hmac.new(key, canonical, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(str(sealed.get("hmac_sha256", "")), expected):
            raise CheckpointInvalid("its HMAC does not match the configured key: forged")
    return Checkpoint(taken_at, chains)
