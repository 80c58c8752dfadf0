"""Opaque cursors for keyset pagination: a page ends with a cursor naming its last row."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence

from ledger.domain.errors import InvalidCursor, PageSizeOutOfRange
from ledger.domain.limits import PAGE_SIZE_MAX, UNITS_MAX


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
