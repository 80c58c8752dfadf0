"""The table of the demo's annual environmental tax in docs/domain/tax.md is what `demo-tax`
computes from the generated CEMS data (so it stays true when the generator or the formula
changes)."""

from __future__ import annotations

from pathlib import Path

from ledger.entrypoints.tax import demo_annual_tax, markdown_table

TAX_PAGE = Path(__file__).resolve().parents[2] / "docs" / "domain" / "tax.md"


def test_the_tax_page_shows_the_annual_tax_of_the_demo_from_generated_monitoring_data() -> None:
    results = demo_annual_tax(2025, 2025)

    assert len(results) == 8
    assert all(r.due + r.reduction == r.before for r in results)
    assert markdown_table(results) in TAX_PAGE.read_text(encoding="utf-8")
