"""Pages over data the demo does not have: an enterprise's monitoring (a year of monthly
aggregates against the standard) and its tax quarter previewed from monitoring."""

from __future__ import annotations

import functools
import shutil
import time
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.console import pages_finance, web
from ledger.domain.access import Role
from ledger.domain.penalties import PenaltyPayment
from ledger.domain.registry import Entitlement
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.services import access, compliance, rights, statements, trading
from ledger.settings import Settings
from tests.console.conftest import SignedIn, sign_in
from tests.factories import NO_FOUR_EYES, actor, token_for
from tests.integration.monitoring_support import HEADER, build_outlets, full_month, import_lines
from tests.integration.registry_support import TRADE_DAY, of, so2_trade
from tests.integration.test_carbon_compliance import closed_with_shortfall, oblige


@pytest.fixture
def monitored(sqlite_template: Path, tmp_path: Path) -> Iterator[tuple[FastAPI, str]]:
    """E1's SINTER-1 monitored for the first quarter of 2025 (SO2 at 20 mg/Nm³, then 40 in
    March: above its standard of 35), and a token of E1's representative."""
    path = tmp_path / "ledger.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    store = Store(create_ledger_engine(url, sqlite_synchronous="NORMAL"), four_eyes=NO_FOUR_EYES)
    build_outlets(store)
    months = (date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1))
    import_lines(
        store, [row for m in months for row in full_month("40" if m.month == 3 else "20", m)]
    )
    token = token_for(store, actor(store, Role.ENTERPRISE, "E1"))
    yield create_app(Settings(database_url=url, four_eyes=frozenset()), store=store), token
    store.dispose()


def test_monitoring_shows_each_month_against_the_standard(monitored: tuple[FastAPI, str]) -> None:
    app, token = monitored
    with TestClient(app) as client:
        client.cookies.set("ledger_language", "en", path="/console")
        sign_in(client, token)
        page = client.get("/console/monitoring", params={"year": "2025", "pollutant": "SO2"})
        other_year = client.get("/console/monitoring", params={"year": "2024"})
    assert page.status_code == 200
    text = page.text
    assert "SO2 at SINTER-1 against the standard" in text
    assert "<svg" in text and "<desc" in text and 'class="chart-mark"' in text
    for month in ("2025-01", "2025-02", "2025-03"):
        assert f'<th scope="row">{month}</th>' in text
    assert "No monitoring data" in other_year.text


def test_a_tax_quarter_is_previewed_from_monitoring(monitored: tuple[FastAPI, str]) -> None:
    app, token = monitored
    with TestClient(app) as client:
        client.cookies.set("ledger_language", "en", path="/console")
        sign_in(client, token)
        preview = client.get("/console/tax", params={"quarter": "2025Q1", "source": "monitoring"})
        from_reports = client.get("/console/tax", params={"quarter": "2025Q1"})
    assert preview.status_code == 200
    assert "Quarter 2025Q1 computed from monitoring" in preview.text
    assert "Article 13 savings" in preview.text and "File this return" not in preview.text
    assert from_reports.status_code == 200
    assert "tax_data_missing" in from_reports.text  # no verified report: said on the page


def test_an_enterprise_drafts_and_submits_a_report_from_monitoring(
    monitored: tuple[FastAPI, str],
) -> None:
    app, token = monitored
    with TestClient(app) as client:
        client.cookies.set("ledger_language", "en", path="/console")
        csrf = sign_in(client, token)
        drafted = client.post("/console/reports", data={"csrf": csrf, "period": "2025Q1"})
        assert "drafted" in drafted.text, drafted.text
        report_id = drafted.text.split("Report ", 1)[1].split(" drafted", 1)[0]
        assert "SINTER-1" in drafted.text and "Submit for verification" in drafted.text
        submitted = client.post(f"/console/reports/{report_id}/submit", data={"csrf": csrf})
    assert f"Report {report_id} submitted." in submitted.text
    assert report_id in submitted.text  # now listed among the submitted reports


def test_the_market_report_is_public_and_names_no_party(monitored: tuple[FastAPI, str]) -> None:
    app, _ = monitored
    with TestClient(app) as client:
        page = client.get("/console/market", params={"year": "2026"})
    assert page.status_code == 200
    assert "这些年份没有已结算的交易。" in page.text  # Chinese: the default language


def test_the_market_report_charts_only_the_cells_it_may_show(app: FastAPI) -> None:
    # Three SO2 trades among E1, E2 and E4 in 2026-Q1: shown; one more quarter's single trade
    # (2026-Q2) is suppressed (rules §7.11) and never charted.
    store = app.state.store
    for trade_id, buyer, day in (
        ("X1", "E2", TRADE_DAY),
        ("X2", "E2", TRADE_DAY),
        ("X3", "E4", TRADE_DAY),
        ("X4", "E2", date(2026, 4, 2)),
    ):
        trading.propose(store, of(store, "E1"), so2_trade(trade_id, buyer=buyer, trade_date=day))
        trading.accept(store, of(store, buyer), trade_id)
        trading.record(store, of(store, "HEBEI"), trade_id)
    with TestClient(app) as client:
        page = client.get("/console/market", params={"year": "2026"})
        client.cookies.set("ledger_language", "en", path="/console")
        english = client.get("/console/market", params={"year": "2026"}).text
    assert page.status_code == 200
    assert "2026-Q1 SO2 双边交易" in page.text and "6,000.00" in page.text
    assert "2026-Q2" not in page.text
    assert "已隐藏的单元格（交易少于 3 笔或交易方少于 3 个，不公布其任何数据）：1 个。" in page.text
    # The market is named in the reader's language, in the table and on the chart alike.
    assert english.count("2026-Q1 SO2 bilateral trades") >= 2
    assert "SO2 bilateral<" not in english


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", ("Shortfall penalties", "CN¥490,000.00", "CN¥90,000.00", "CN¥400,000.00")),
        ("zh", ("缺口罚款", "¥490,000.00", "¥90,000.00", "¥400,000.00")),
    ],
)
def test_the_compliance_page_shows_a_shortfall_penalty_booked_paid_and_outstanding(
    app: FastAPI, language: str, words: tuple[str, ...]
) -> None:
    # E1 closed its 2024 obligation O1 1,000 tCO2 short (5 × 98.00 CNY a tonne: 490,000.00
    # CNY) and paid 90,000.00 of it; its 2025 obligation O2 is still open and owes nothing.
    store = app.state.store
    today = store.clock
    closed_with_shortfall(store, "E1", 1_000, "O1")
    store.clock = today  # back from the deadline: a token issued then has expired by now
    oblige(store, "O2", "E1", 500, year=2025)
    payment = PenaltyPayment("P1", "O1", 90_000_00)
    compliance.pay_shortfall_penalty(store, of(store, "E1"), payment)
    with TestClient(app) as client:
        client.cookies.set("ledger_language", language, path="/console")
        sign_in(client, token_for(store, actor(store, Role.ENTERPRISE, "E1")))
        page = client.get("/console/compliance")
    assert page.status_code == 200
    penalties = page.text.split("<h2>", 1)[1].split("</table>", 1)[0]
    assert words[0] in penalties
    booked, paid, outstanding = words[1:]
    row = f'<td>O1</td><td class="num">{booked}</td><td class="num">{paid}</td>'
    assert f'{row}<td class="num">{outstanding}</td>' in penalties
    assert "O2" not in penalties


def test_a_market_report_whose_every_cell_is_suppressed_says_so(app: FastAPI) -> None:
    # Two SO2 trades in 2026-Q1: settled, but fewer than 3 (rules §7.11).
    store = app.state.store
    for trade_id in ("X1", "X2"):
        trading.propose(store, of(store, "E1"), so2_trade(trade_id))
        trading.accept(store, of(store, "E2"), trade_id)
        trading.record(store, of(store, "HEBEI"), trade_id)
    with TestClient(app) as client:
        chinese = client.get("/console/market", params={"year": "2026"}).text
        client.cookies.set("ledger_language", "en", path="/console")
        english = client.get("/console/market", params={"year": "2026"}).text
    assert "所有单元格均已隐藏：每个单元格的交易少于 3 笔或交易方少于 3 个" in chinese
    assert (
        "every cell is suppressed: each has fewer than 3 trades or fewer than 3 parties" in english
    )
    for text in (chinese, english):
        assert "没有已结算的交易" not in text and "No trade settled" not in text
        assert "<svg" not in text


def test_an_authority_freezes_and_unfreezes_an_account(signed_in: SignedIn) -> None:
    client, csrf = signed_in(Role.REGULATOR)
    enterprise, _ = signed_in(Role.ENTERPRISE)
    for action, said in (("freeze", "已冻结"), ("unfreeze", "已解冻")):
        answer = client.post(
            "/console/accounts/freeze",
            data={"csrf": csrf, "account": "E1:holdings", "action": action},
        )
        assert f"账户 E1:holdings {said}。" in answer.text
    refused = enterprise.get("/console/pledges")
    assert refused.status_code == 200  # enterprises read pledges (their own)
    assert "冻结或解冻账户" not in refused.text  # but are offered no freezing


def _job_until_done(client: TestClient, location: str) -> str:
    """The job's page once the import has ended (it refreshes itself until then)."""
    for _ in range(200):
        page = client.get(location).text
        if 'http-equiv="refresh"' not in page:
            return page
        time.sleep(0.05)
    raise AssertionError("the import did not end")


def test_a_cems_import_runs_in_the_background_with_its_progress(
    monitored: tuple[FastAPI, str],
) -> None:
    app, token = monitored
    april = HEADER + "".join(full_month("25", date(2025, 4, 1)))
    # CEMS data come from the monitoring network, never from the enterprise (rules §7.4).
    network = token_for(app.state.store, actor(app.state.store, Role.CEMS_NETWORK))
    with TestClient(app) as client:
        client.cookies.set("ledger_language", "en", path="/console")
        csrf = sign_in(client, network)
        started = client.post(
            "/console/cems-imports",
            data={"csrf": csrf},
            files={"file": ("april.csv", april.encode(), "text/csv")},
            follow_redirects=False,
        )
        assert started.status_code == 303
        done = _job_until_done(client, started.headers["location"])
        broken = client.post(
            "/console/cems-imports",
            data={"csrf": csrf},
            files={"file": ("broken.csv", b"no,header\n1,2\n", "text/csv")},
            follow_redirects=False,
        )
        refused = _job_until_done(client, broken.headers["location"])
        with TestClient(app) as enterprise:
            enterprise.cookies.set("ledger_language", "en", path="/console")
            sign_in(enterprise, token)
            months = enterprise.get("/console/monitoring", params={"year": "2025"}).text
        with TestClient(app) as other:
            stranger = other.get(started.headers["location"], follow_redirects=False)
    assert "Imported." in done and "720 rows" in done and 'value="100"' in done
    assert "Refused: nothing was imported." in refused and "cems_import_refused" in refused
    assert '<th scope="row">2025-04</th>' in months
    assert stranger.status_code == 303  # no session: sent to sign in, never shown the job


def test_compliance_charts_the_years_emissions_against_the_rights_allocated(
    monitored: tuple[FastAPI, str],
) -> None:
    app, token = monitored
    store = app.state.store
    regulator = actor(store, Role.REGULATOR, "HEBEI")
    rights.confirm_entitlement(
        store, regulator, Entitlement("EN-1", "E1", "SO2", 100_000, 2025, 2029)
    )
    with TestClient(app) as client:
        client.cookies.set("ledger_language", "en", path="/console")
        sign_in(client, token)
        page = client.get("/console/compliance", params={"year": "2025"}).text
        other_year = client.get("/console/compliance", params={"year": "2024"}).text
    assert "SO2 emitted in 2025 against the rights allocated" in page
    assert page.count('class="chart-mark"') == 3  # the 100 t allocated, beside each month
    assert "No monitored emissions of an allocated pollutant this year." in other_year


def test_an_authority_reclaims_rights_into_its_reserve_and_cancels_them(
    signed_in: SignedIn,
) -> None:
    client, csrf = signed_in(Role.REGULATOR)
    page = client.get("/console/reserve")
    assert page.status_code == 200 and "登记储备操作" in page.text
    body = {
        "csrf": csrf,
        "action": "reclaim",
        "party": "E1",
        "pollutant": "SO2",
        "quantity_t_per_year": "1",
        "first_vintage": "2026",
        "last_vintage": "2026",
    }
    reclaimed = client.post("/console/reserve-operations", data={**body, "id": "R-1"})
    assert "储备操作 R-1 已登记。" in reclaimed.text
    assert '<th scope="row">SO2-2026</th><td>t</td><td class="num">1.000</td>' in reclaimed.text
    cancel = {**body, "id": "R-2", "action": "cancellation", "party": ""}
    cancelled = client.post("/console/reserve-operations", data=cancel)
    assert "储备操作 R-2 已登记。" in cancelled.text  # four-eyes is off in these tests
    invalid = client.post("/console/reserve-operations", data={**body, "id": "R-3", "action": "x"})
    assert "被拒绝: invalid_field: action" in invalid.text


def test_a_month_is_charted_hour_by_hour_for_its_enterprise_and_a_verifier(
    monitored: tuple[FastAPI, str],
) -> None:
    app, token = monitored
    store = app.state.store
    hours = {"outlet": "SINTER-1", "pollutant": "SO2", "month": "2025-03"}
    with TestClient(app) as client:
        client.cookies.set("ledger_language", "en", path="/console")
        csrf = sign_in(client, token)
        months = client.get("/console/monitoring", params={"year": "2025"}).text
        page = client.get("/console/monitoring/hours", params=hours)
        drafted = client.post("/console/reports", data={"csrf": csrf, "period": "2025-03"})
        report_id = drafted.text.split("Report ", 1)[1].split(" drafted", 1)[0]
        client.post(f"/console/reports/{report_id}/submit", data={"csrf": csrf})
    with TestClient(app) as other:
        other.cookies.set("ledger_language", "en", path="/console")
        sign_in(other, token_for(store, actor(store, Role.ENTERPRISE, "E2")))
        stranger = other.get("/console/monitoring/hours", params={**hours, "party": "E1"})
    with TestClient(app) as checker:
        checker.cookies.set("ledger_language", "en", path="/console")
        sign_in(checker, token_for(store, actor(store, Role.VERIFIER, None)))
        reports_page = checker.get("/console/reports").text
        from_report = checker.get("/console/monitoring/hours", params={**hours, "party": "E1"})
    link = "/console/monitoring/hours?party=E1&amp;outlet=SINTER-1&amp;pollutant=SO2&amp;month="
    assert f"{link}2025-03" in months and f"{link}2025-01" in months
    assert page.status_code == 200
    text = page.text
    assert "SO2 at SINTER-1 hour by hour in 2025-03" in text and "<desc" in text
    assert text.count('class="hour-exceedance"') == 31 * 24  # 40 mg/Nm³ every hour, over 35
    assert text.count('<details class="day"') == 31 and 'class="chart-mark"' in text
    assert "2025-03-31 23:00 CST" in text
    assert stranger.status_code == 404 and "record_not_found" in stranger.text  # E2's own: none
    assert f"{link}2025-03" in reports_page
    assert from_report.status_code == 200 and "hour by hour in 2025-03" in from_report.text


def test_a_trial_balance_read_whole_is_shown_a_page_at_a_time(
    signed_in: SignedIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pages_finance, "numbered", functools.partial(web.numbered, size=2))
    client, _ = signed_in(Role.FINANCE)
    client.cookies.set("ledger_language", "en", path="/console")
    first = client.get("/console/trial-balance").text
    second = client.get("/console/trial-balance", params={"page": "2"}).text
    past = client.get("/console/trial-balance", params={"page": "999"}).text
    refused = client.get("/console/trial-balance", params={"page": "0"})
    row = '<tr><th scope="row">'
    assert first.count(row) == second.count(row) == 2
    last = int(first.split("Page 1 of ", 1)[1].split("<", 1)[0].strip())
    assert last > 2 and 'href="?page=2&amp;instrument=CNY" rel="next"' in first
    assert f"Page 2 of {last}" in second and 'rel="prev"' in second
    assert f"Page {last} of {last}" in past  # past the end: the last page
    assert first.split(row, 1)[1][:40] != second.split(row, 1)[1][:40]
    assert "Total" in second and refused.status_code == 422
    assert client.get("/console/periods", params={"page": "2"}).status_code == 200


def test_an_authority_searches_enterprises_by_name(signed_in: SignedIn) -> None:
    client, _ = signed_in(Role.REGULATOR)
    found = client.get("/console/parties", params={"name": "e1"}).text
    assert '<th scope="row">E1</th>' in found and '<th scope="row">E2</th>' not in found
    assert 'name="name" value="e1"' in found


def test_the_overview_charts_the_rights_held_by_city(signed_in: SignedIn) -> None:
    client, _ = signed_in(Role.REGULATOR)
    client.cookies.set("ledger_language", "en", path="/console")
    page = client.get("/console/overview").text
    store = client.app.state.store  # type: ignore[attr-defined]
    held = statements.holdings_by_city(store, actor(store, Role.REGULATOR, "HEBEI"))
    # E1 (100 t SO2, 50 t COD a year, 2026–2030) and E2 (10 t SO2) are Tangshan's.
    assert ("Tangshan", "SO2", Decimal("550.000")) in held
    assert ("Tangshan", "COD", Decimal("250.000")) in held
    assert "Rights held by city" in page
    assert '<th scope="row">Tangshan · SO2</th><td class="num">550.000</td>' in page


def test_two_administrators_create_and_enrol_a_principal_each_seeing_one_half(
    app: FastAPI, signed_in: SignedIn
) -> None:
    store = app.state.store
    asking, csrf = signed_in(Role.ADMINISTRATOR)
    asking.cookies.set("ledger_language", "en", path="/console")
    new = {"csrf": csrf, "id": "ver-new", "name": "New verifier", "role": "verifier"}
    created = asking.post("/console/principals", data={**new, "kind": "user", "party": ""})
    assert "Principal ver-new created." in created.text
    wrong = asking.post("/console/principals", data={**new, "id": "x-1", "role": "king"})
    assert "Refused: invalid_field: choose a role" in wrong.text
    asked = asking.post("/console/principals/ver-new/enrolments", data={"csrf": csrf}).text
    first = asked.split("shown only now: ", 1)[1].split(".", 1)[0]
    request_id = asked.split("(request ", 1)[1].split(")", 1)[0]
    assert first not in asking.get("/console/principals/ver-new").text  # shown once
    with TestClient(app) as approver:
        approver.cookies.set("ledger_language", "en", path="/console")
        second_admin = actor(store, Role.ADMINISTRATOR, None, principal="adm-2")
        approving_csrf = sign_in(approver, token_for(store, second_admin))
        approved = approver.post(
            f"/console/approvals/{request_id}/approve", data={"csrf": approving_csrf}
        ).text
    second = approved.split("second half, shown only now: ", 1)[1].split("<", 1)[0].rstrip(".")
    assert first not in approved
    issued = access.redeem_enrolment(store, "ver-new", f"{first}.{second}")
    assert issued.principal_id == "ver-new" and issued.secret  # the whole code works
