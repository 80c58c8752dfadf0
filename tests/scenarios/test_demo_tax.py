"""The README's table of the demo's annual environmental tax is what `demo-tax` computes from
the generated CEMS data (so the table stays true when the generator or the formula changes)."""

from __future__ import annotations

from pathlib import Path

from ledger.entrypoints.tax import demo_annual_tax, markdown_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_shows_the_demo_enterprises_annual_tax_from_generated_monitoring_data() -> None:
    results = demo_annual_tax(2025, 2025)

    assert len(results) == 8
    assert all(r.due + r.reduction == r.before for r in results)
    assert markdown_table(results) in README.read_text(encoding="utf-8")
