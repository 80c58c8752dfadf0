"""Finance staff reconcile a bank statement in the console (the automatic match undone, the
same items matched by hand, the reconciliation confirmed) and close a period, in Chinese and in
English, in a real browser."""

from __future__ import annotations

from pathlib import Path

from ledger.entrypoints import demo
from tests.browser.conftest import Console

WORDS = {
    "en": ("Unmatched.", "Matched.", "Reconciliation confirmed.", "Period {} closed."),
    "zh": ("已取消匹配。", "已匹配。", "对账已确认。", "期间 {} 已结账。"),
}
# Each language reconciles its own enterprise's deposit and closes its own month.
CASES = {"zh": ("E01", "2026-11"), "en": ("E02", "2026-10")}


def test_finance_reconciles_a_statement_and_closes_a_period(
    console: Console, tmp_path: Path
) -> None:
    unmatched, matched, confirmed, closed = WORDS[console.language]
    party, month = CASES[console.language]
    deposited = demo.OPENING_DAY.isoformat()  # the demo's deposits are effective then
    statement = tmp_path / "statement.csv"
    statement.write_text(
        "date,reference,amount,counterparty,description\n"
        f"{deposited},deposit-{party}-initial,5000000.00,{party},initial deposit\n"
    )
    console.sign_in("demo-finance")
    console.open("/console/trial-balance?instrument=CNY")
    assert f"{party}:cash" in console.text
    console.open("/console/periods")
    console.fill({"account": f"{party}:cash", "file": str(statement)})
    console.submit("form[action='/console/statement-imports']")
    assert "/console/reconciliations/" in console.driver.current_url
    assert f"deposit-{party}-initial" in console.text  # matched by its reference

    unmatch = "form[action*='/unmatch']"
    reason = console.driver.find_element("css selector", f"{unmatch} input[name=reason]")
    reason.send_keys("checking by hand")
    console.submit(unmatch)
    assert unmatched in console.text
    console.driver.find_element("css selector", "input[name=line]").click()
    posting = f"//tr[td[text()='deposit-{party}-initial']]//input[@name='posting']"
    console.driver.find_element("xpath", posting).click()
    console.driver.find_element("css selector", "#match-form input[name=reason]").send_keys(
        "the bank's deposit line"
    )
    console.submit("#match-form")
    assert matched in console.text
    console.submit("form[action$='/confirm']")
    assert confirmed in console.text

    console.open("/console/periods")
    console.fill({"label": month, "reason": "month end"})
    console.submit("form[action='/console/periods/close']")
    assert closed.format(month) in console.text
