"""A regulator allocates above the four-eyes threshold in the console and a second regulator
approves it from the approvals queue, then looks at the reserve listings and the exceedances,
in Chinese and in English, in a real browser."""

from __future__ import annotations

from tests.browser.conftest import Console

ENGLISH = {
    "waits": "waits for a second principal's approval",
    "approved": "approved and carried out",
    "suppressed": "every cell is suppressed",
    "sold": "sold",
    "no exceedances": "No exceedances in this year.",
}
CHINESE = {
    "waits": "等待另一名主体批准",
    "approved": "已批准并执行",
    "suppressed": "所有单元格均已隐藏",
    "sold": "已成交",
    "no exceedances": "本年度没有超标记录。",
}


def test_a_regulator_allocates_and_a_second_regulator_approves(console: Console) -> None:
    words = CHINESE if console.language == "zh" else ENGLISH
    console.sign_in("demo-regulator")
    console.open("/console/overview")
    assert "SO2-2026" in console.text
    console.open("/console/parties?city=Xingtai")
    assert "E03" in console.text and "E01" not in console.text
    console.open("/console/entitlements?party=E03")
    allocation = console.driver.find_element("name", "id").get_attribute("value") or ""
    console.fill({"pollutant": "SO2", "quantity_t_per_year": "1500.250", "first_vintage": "2031"})
    console.submit("form[action='/console/entitlements']")
    assert words["waits"] in console.text
    console.open("/console/approvals")
    assert allocation in console.text  # the initiator sees its request, and may not decide it
    assert not console.driver.find_elements("css selector", "form[action$='/approve']")

    console.sign_in("demo-regulator-2")
    console.open("/console/approvals")
    # The request in human terms: its sentence names the allocation; the payload is folded.
    row = console.driver.find_element("xpath", f"//tr[td/p[contains(., '{allocation}')]]")
    assert "1,500.250 t/a" in row.text and "E03" in row.text
    assert not row.find_element("css selector", "details.payload").get_attribute("open")
    row.find_element("css selector", "form[action$='/approve'] button").click()
    console.shot()
    assert words["approved"] in console.text
    console.open("/console/entitlements?party=E03")
    assert allocation in console.text and "1,500.250" in console.text
    # The demo's sale from Tangshan's reserve (T3) is a sold listing; the demo has no CEMS data.
    console.open("/console/listings?state=all")
    assert "T3" in console.text and words["sold"] in console.text
    console.open("/console/exceedances?year=2025")
    assert words["no exceedances"] in console.text
    # The demo's settled trades, no party named: no quarter has 3 trades between 3 parties, so
    # every cell is suppressed and no price is drawn (rules §7.11).
    console.open("/console/market?year=2026")
    assert not console.driver.find_elements("css selector", "svg.chart title")
    assert words["suppressed"] in console.text
    assert "E01" not in console.driver.find_element("tag name", "main").text
