"""An administrator deactivates a principal in the console, and the principal's own session
ends; reactivated, it signs in again (one language: the pages are the same machinery)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import Console


@pytest.mark.parametrize("console", ["en"], indirect=True)
def test_an_administrator_deactivates_and_reactivates_a_principal(console: Console) -> None:
    console.sign_in("demo-e08")
    assert "demo-e08" in console.text
    console.sign_in("demo-admin")
    console.open("/console/principals")
    console.click("a[href='/console/principals/demo-e08']")
    console.submit("form[action$='/deactivate']")
    assert "demo-e08 deactivated" in console.text
    console.driver.delete_all_cookies()
    console.open("/console/language/en?next=/console/sign-in")
    console.fill({"token": console.server.tokens["demo-e08"]})
    console.submit("form.card")
    assert "This token does not sign anyone in." in console.text
    console.sign_in("demo-admin")
    console.open("/console/principals/demo-e08")
    console.submit("form[action$='/activate']")
    assert "demo-e08 activated" in console.text
    console.sign_in("demo-e08")
    assert "demo-e08" in console.text
