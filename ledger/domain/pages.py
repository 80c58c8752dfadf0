"""Opaque cursors for keyset pagination: a page ends with a cursor naming its last row."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from ledger.domain.errors import InvalidCursor, PageSizeOutOfRange
from ledger.domain.limits import PAGE_SIZE_MAX, UNITS_MAX

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing, filtered before paging: full, or the last one (no cursor)."""

    items: list[T]
    next_cursor: str | None


def page_of(items: list[T], limit: int, cursor_of: Callable[[T], str]) -> Page[T]:
    """A page of `items` (at most `limit`, fetched in cursor order): a full page has a cursor."""
    following = cursor_of(items[-1]) if items and len(items) == limit else None
    return Page(items, following)


def keyset_page(kind: str, rows: Sequence[tuple[int, T]], limit: int) -> Page[T]:
    """A page of (position, record) rows of a listing of `kind`, with the next page's cursor."""
    return Page(
        [record for _, record in rows],
        next_cursor(kind, [position for position, _ in rows], limit),
    )


def encode_cursor(kind: str, position: int) -> str:
    """A cursor string for the row at `position` in a listing of `kind`."""
    return base64.urlsafe_b64encode(f"{kind}:{position}".encode()).decode().rstrip("=")


def next_cursor(kind: str, positions: Sequence[int], limit: int) -> str | None:
    """The cursor of the page after one whose rows sit at `positions` (None after the last)."""
    return encode_cursor(kind, positions[-1]) if len(positions) == limit else None


def decode_cursor(kind: str, cursor: str | None) -> int:
    """The position a cursor names (0 = from the start); refuses cursors of other listings."""
    if cursor is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = text.partition(":")
        position = int(number)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursor("the cursor is not one this listing issued", field="cursor") from None
    if prefix != kind or not 0 <= position <= UNITS_MAX:
        raise InvalidCursor("the cursor belongs to another listing", field="cursor")
    return position


def check_page_size(limit: int) -> int:
    """1 ≤ limit ≤ PAGE_SIZE_MAX."""
    if not 1 <= limit <= PAGE_SIZE_MAX:
        raise PageSizeOutOfRange(f"limit must be between 1 and {PAGE_SIZE_MAX}", field="limit")
    return limit


@dataclass(frozen=True, slots=True)
class Created(Generic[T]):
    """What a create answers: the record, and whether this was a retry that found it made
    already by the same request (an idempotent replay: nothing changed)."""

    record: T
    replayed: bool = False
