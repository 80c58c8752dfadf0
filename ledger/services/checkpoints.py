"""Checkpoints of the hash chains, written to a directory the operator keeps outside the database.

`take` reads where every chain ends and first verifies the links added since the newest
checkpoint (so a checkpoint never blesses a chain rewritten since the one before it: taking one
costs what was sealed since); `export` writes it to the directory as a file of its own
(`checkpoint-<UTC time>.json`, never overwritten); the server's sweeper exports one every
`LEDGER_CHECKPOINT_SECONDS` (`export_due`). `load` reads a directory back for verify and for the
sealer, which will not extend a chain that lost a link a checkpoint names.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

from ledger.domain.chain import Anchor, ChainBreak, ChainHead
from ledger.domain.checkpoints import ChainPoint, Checkpoint, CheckpointInvalid, parse_checkpoint
from ledger.domain.ports import UnitOfWorkFactory, Violation
from ledger.domain.records import head_of
from ledger.services import chain
from ledger.services.record_chains import verify_links
from ledger.services.transactions import read

PATTERN = "checkpoint-*.json"


class CheckpointRefused(Exception):
    """The chains as they stand must not be checkpointed; verify says why in full."""


@dataclass(frozen=True, slots=True)
class Loaded:
    """The checkpoints of a directory, oldest first, and the files that are not valid ones."""

    checkpoints: list[tuple[str, Checkpoint]]
    invalid: list[tuple[str, str]]  # (file name, why)

    def anchors(self, chain_name: str) -> dict[int, Anchor]:
        """The links of `chain_name` the checkpoints name (the newest wins a tie)."""
        return {
            checkpoint.chains[chain_name].length: Anchor(
                checkpoint.chains[chain_name].head, f"checkpoint {name}"
            )
            for name, checkpoint in self.checkpoints
            if chain_name in checkpoint.chains and checkpoint.chains[chain_name].length
        }

    @property
    def newest(self) -> Checkpoint | None:
        return self.checkpoints[-1][1] if self.checkpoints else None


def load(directory: Path, key: bytes | None = None) -> Loaded:
    """Every checkpoint in `directory` (a missing directory holds none)."""
    checkpoints, invalid = [], []
    for path in sorted(directory.glob(PATTERN)) if directory.is_dir() else []:
        try:
            checkpoints.append((path.name, parse_checkpoint(path.read_text("utf-8"), key)))
        except (CheckpointInvalid, OSError, UnicodeDecodeError) as error:
            invalid.append((path.name, str(error)))
    checkpoints.sort(key=lambda item: item[1].taken_at)
    return Loaded(checkpoints, invalid)


def take(uow_factory: UnitOfWorkFactory, since: Checkpoint | None = None) -> Checkpoint:
    """Where every chain ends now, once the links added since `since` verify."""
    points = {chain.JOURNAL: _journal_point(uow_factory, since)}
    for name in read(uow_factory, lambda uow: uow.records.chains):
        points[name] = _record_point(uow_factory, name, since)
    now = read(uow_factory, lambda uow: uow.now())
    return Checkpoint(now, points)


def _journal_point(uow_factory: UnitOfWorkFactory, since: Checkpoint | None) -> ChainPoint:
    head, tail = read(uow_factory, lambda uow: uow.chain.head_and_tail())
    if head != ChainHead.of(tail):
        raise _disagrees(chain.JOURNAL)
    previous = None if since is None else since.chains.get(chain.JOURNAL)
    verdict = chain.verify_journal_links(uow_factory, since=previous, until=head.length)
    if verdict.first_break is not None:
        raise _unsound(chain.JOURNAL, verdict.first_break)
    return ChainPoint(head.length, head.hash)


def _record_point(
    uow_factory: UnitOfWorkFactory, name: str, since: Checkpoint | None
) -> ChainPoint:
    head, tail = read(uow_factory, lambda uow: uow.records.head_and_tail(name))
    if head != head_of(tail):
        raise _disagrees(name)
    previous = None if since is None else since.chains.get(name)
    broken = verify_links(
        uow_factory, name, since=previous, until=head.length, page_size=chain.VERIFY_PAGE_SIZE
    )
    if broken is not None:
        raise _unsound(name, broken)
    return ChainPoint(head.length, head.hash)


def _disagrees(name: str) -> CheckpointRefused:
    return CheckpointRefused(
        f"the {name} chain's head disagrees with its last link: run `emissions-ledger verify` "
        "and find the cause before taking a checkpoint"
    )


def _unsound(name: str, broken: ChainBreak) -> CheckpointRefused:
    return CheckpointRefused(
        f"the {name} chain does not verify since the last checkpoint: {broken.problem.value} "
        f"at chain_seq {broken.chain_seq} ({broken.detail})"
    )


def export(
    uow_factory: UnitOfWorkFactory, directory: Path, key: bytes | None = None
) -> tuple[Path, Checkpoint]:
    """Take a checkpoint (verified since the directory's newest) and write it there."""
    directory.mkdir(parents=True, exist_ok=True)
    checkpoint = take(uow_factory, since=load(directory, key).newest)
    return write(directory, checkpoint, key), checkpoint


def write(directory: Path, checkpoint: Checkpoint, key: bytes | None = None) -> Path:
    """Write `checkpoint` as a new file of `directory` (all or nothing; never overwritten)."""
    path = directory / checkpoint.name
    partial = directory / f".{checkpoint.name}.partial"
    with partial.open("x", encoding="utf-8") as file:
        file.write(checkpoint.text(key) + "\n")
        file.flush()
        os.fsync(file.fileno())
    os.link(partial, path)  # fails if the name is taken
    partial.unlink()
    return path


def export_due(
    uow_factory: UnitOfWorkFactory, directory: Path, every: timedelta, key: bytes | None = None
) -> int:
    """Export a checkpoint if the newest in `directory` is older than `every`; how many."""
    newest = load(directory, key).newest
    now = read(uow_factory, lambda uow: uow.now())
    if newest is not None and now - newest.taken_at < every:
        return 0
    export(uow_factory, directory, key)
    return 1


def seal(
    uow_factory: UnitOfWorkFactory,
    directory: Path | None,
    key: bytes | None = None,
    *,
    wait: timedelta = chain.SEAL_WAIT,
    backlog: bool = False,
) -> int:
    """Seal as `chain.seal_all` does, with the process's sealer anchored first to the newest
    checkpoint of `directory` (if any): it will not extend a chain that lost that link."""
    sealer = chain.sealer_of(uow_factory)
    if directory is not None and not sealer.anchored:
        newest = load(directory, key).newest
        for name, point in ({} if newest is None else newest.chains).items():
            if name == chain.JOURNAL:
                sealer.anchor(point)
            else:
                sealer.records.anchor(name, point)
    return sealer.seal_all(wait=wait, backlog=backlog)


def verify(uow_factory: UnitOfWorkFactory, loaded: Loaded | None = None) -> chain.VerifyReport:
    """`chain.verify` against the checkpoints `loaded` (if any); a file that is not a valid
    checkpoint is a violation of its own."""
    if loaded is None:
        return chain.verify(uow_factory)
    names = {name for _, checkpoint in loaded.checkpoints for name in checkpoint.chains}
    report = chain.verify(uow_factory, anchors={name: loaded.anchors(name) for name in names})
    invalid = [Violation("checkpoint_invalid", f"{name}: {why}") for name, why in loaded.invalid]
    return replace(report, violations=invalid + report.violations)
