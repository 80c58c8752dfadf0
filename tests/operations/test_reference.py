"""The documentation's reference pages are what the code generates today (`make reference`)."""

from __future__ import annotations

import pytest

from ledger.entrypoints import reference


@pytest.mark.parametrize("name", sorted(reference.PAGES))
def test_the_committed_reference_page_is_what_the_code_generates(name: str) -> None:
    committed = (reference.REFERENCE / name).read_text()

    assert committed == reference.PAGES[name](), (
        f"docs/reference/{name} differs from the code: run `make reference` and commit it"
    )
