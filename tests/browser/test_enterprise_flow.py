"""An enterprise proposes a trade in the console, the counterparty accepts it and the province
records it, in Chinese and in English, in a real browser."""

from __future__ import annotations

from tests.browser.conftest import Console

ENGLISH = {
    "proposed": "Trade {} proposed.",
    "accepted": "Trade {} accepted.",
    "recorded": "Trade {} recorded: settled.",
}
CHINESE = {
    "proposed": "交易 {} 已提出。",
    "accepted": "交易 {} 已接受。",
    "recorded": "交易 {} 已登记：已结算。",
}


def test_an_enterprise_proposes_and_the_counterparty_accepts(console: Console) -> None:
    words = CHINESE if console.language == "zh" else ENGLISH
    console.sign_in("demo-e01")
    assert "demo-e01" in console.text
    console.open("/console/holdings")
    assert "SO2-2026" in console.text and "1,470.000" in console.text
    console.open("/console/trades")
    trade_id = console.driver.find_element("name", "id").get_attribute("value")
    console.fill(
        {
            "side": "sell",
            "counterparty": "E06",
            "family": "SO2",
            "quantity": "10.5",
            "price_cny_per_t": "6200",
        }
    )
    console.submit("form[action='/console/trades']")
    assert words["proposed"].format(trade_id) in console.text

    console.sign_in("demo-e06")
    console.open("/console/trades")
    console.click(f"form[action='/console/trades/{trade_id}/accept'] button")
    assert words["accepted"].format(trade_id) in console.text
    row = console.driver.find_element("xpath", f"//tr[th='{trade_id}']").text
    assert "10.500" in row and "¥6,200.00" in row
    console.open("/console/compliance")

    console.sign_in("demo-regulator")  # the province records it: rights and cash settle
    console.open("/console/trades?party=E06")
    console.click(f"form[action='/console/trades/{trade_id}/record'] button")
    assert words["recorded"].format(trade_id) in console.text
