"""Opaque page cursors and page-size bounds."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.limits import PAGE_SIZE_MAX, UNITS_MAX
from ledger.domain.pages import check_page_size, decode_cursor, encode_cursor
from tests.unit.refusals import refusal


def forged(text: str) -> str:
    """A cursor-shaped string (unpadded url-safe base64) that the ledger never issued."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def test_no_cursor_means_the_first_page() -> None:
    assert decode_cursor("accounts", None) == 0


@given(
    st.sampled_from(["accounts", "statement"]),
    st.integers(min_value=0, max_value=UNITS_MAX),
)
def test_a_cursor_names_back_the_position_it_was_issued_for(kind: str, position: int) -> None:
    assert decode_cursor(kind, encode_cursor(kind, position)) == position


def test_a_cursor_is_url_safe_and_unpadded() -> None:
    cursor = encode_cursor("statement", 123_456_789)

    assert cursor.isascii()
    assert not set(cursor) & set("+/=")


def test_a_cursor_of_another_listing_is_refused() -> None:
    cursor = encode_cursor("statement", 42)

    error = refusal(lambda: decode_cursor("accounts", cursor))

    assert error.code == "invalid_cursor"
    assert error.field == "cursor"


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!!",
        "not a cursor",
        "é",
        forged("accounts"),
        forged("accounts:"),
        forged("accounts:abc"),
        forged("accounts:1.5"),
        forged("accounts:-1"),
        base64.urlsafe_b64encode(b"accounts:\xff\xfe").decode(),
    ],
    ids=[
        "empty",
        "punctuation",
        "spaces",
        "non-ascii",
        "no-position",
        "empty-position",
        "letters",
        "fraction",
        "negative",
        "not-utf8",
    ],
)
def test_a_garbage_cursor_is_refused(cursor: str) -> None:
    error = refusal(lambda: decode_cursor("accounts", cursor))

    assert error.code == "invalid_cursor"
    assert error.field == "cursor"


def test_a_cursor_beyond_any_storable_row_id_is_refused() -> None:
    # Row ids are BIGINT: a forged position past 2**63-1 made list_accounts raise
    # OverflowError (SQLite) or a DataError (PostgreSQL), a 500 instead of invalid_cursor.
    cursor = encode_cursor("accounts", UNITS_MAX + 1)

    assert refusal(lambda: decode_cursor("accounts", cursor)).code == "invalid_cursor"


@pytest.mark.parametrize("limit", [1, 100, PAGE_SIZE_MAX])
def test_a_page_size_from_one_to_the_maximum_is_accepted(limit: int) -> None:
    assert check_page_size(limit) == limit


@pytest.mark.parametrize("limit", [0, -1, PAGE_SIZE_MAX + 1])
def test_a_page_size_outside_the_bounds_is_refused(limit: int) -> None:
    error = refusal(lambda: check_page_size(limit))

    assert error.code == "page_size_out_of_range"
    assert error.field == "limit"
