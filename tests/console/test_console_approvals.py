"""The approvals queue in human terms: each pending four-eyes request says what it will do, for
whom and how much in its unit (t to the kg, CNY to the fen), who asked and when (China Standard
Time), in Chinese and in English; its stored payload is only a folded <details>."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.console.approval_views import DESCRIBERS, describe
from ledger.domain.access import (
    FOUR_EYES_OPERATIONS,
    ApprovalRequest,
    FourEyesPolicy,
    RequestState,
    Role,
)
from ledger.domain.accounts import Side
from ledger.domain.entries import PostingRequest
from ledger.domain.payloads import to_payload
from ledger.domain.penalties import RightsPenalty
from ledger.domain.permits import Permit
from ledger.domain.registry import Entitlement
from ledger.domain.tax_tables import (
    EquivalentValue,
    Membership,
    Pollutant,
    Rate,
    RateCategory,
    entry_payload,
)
from ledger.services import approvals, rights
from ledger.services.incentives import EquipmentInvestment
from ledger.services.journal import PostEntry, ReverseEntry
from ledger.services.rights import ReserveAction, ReserveOperation
from tests.console.conftest import sign_in
from tests.factories import actor, token_for
from tests.integration.registry_support import of

ASKED_AT = datetime(2026, 12, 5, 16, 30, tzinfo=UTC)  # 2026-12-06 00:30 in Beijing

# Payloads as the use cases store them: their real commands through `to_payload`.
PAYLOADS: dict[str, dict[str, Any]] = {
    "allocation": to_payload(Entitlement("A-1", "E1", "SO2", 1_500_250, 2031, 2035)),
    "buy_back": to_payload(
        ReserveOperation(
            "R-3", ReserveAction.BUY_BACK, "TANGSHAN", "SO2", 1_500, 2027, 2028, "E3", 500_000
        )
    ),
    "confiscation": to_payload(
        ReserveOperation("R-1", ReserveAction.CONFISCATION, "HEBEI", "NOx", 2_005, 2026, 2027, "E2")
    ),
    "cancellation": to_payload(
        ReserveOperation("R-2", ReserveAction.CANCELLATION, "HEBEI", "COD", 7_000, 2028, 2028)
    ),
    "reversal": to_payload(ReverseEntry("adj-1", "rev-1", memo="booked twice")),
    "adjustment": {
        "entries": [
            to_payload(
                PostEntry(
                    "adj-2",
                    "adjustment",
                    (
                        PostingRequest("E1:cash", "CNY", Side.CREDIT, Decimal("1234.5")),
                        PostingRequest("HEBEI:revenue", "CNY", Side.DEBIT, Decimal("1234.5")),
                    ),
                    memo="refund",
                )
            )
        ]
    },
    "period_reopen": {"id": "reopen-1", "period": "2026-11", "reason": "late invoice"},
    "enrolment": {"principal": "ver-new", "first_part_hash": "0" * 64},
    "penalty": to_payload(RightsPenalty("P-1", "E3", "RPT-7", "SO2", 12_345_678)),
    "obligation_close": {
        "obligation": "E3-2026",
        "party_code": "E3",
        "average_price_fen": 9_850,
        "shortfall_units": 1_200,
        "penalty_fen": 5 * 9_850 * 1_200,
    },
    "tax_table": entry_payload(
        "T-1", date(2027, 1, 1), Rate("hebei", "1", RateCategory.SO2_NOX, Decimal("4.8"))
    ),
    "permit": to_payload(
        Permit(
            "E4",
            "SINTER-1",
            date(2027, 1, 1),
            {"SO2": Decimal("50")},
            None,
            {"SO2": Decimal("0.95")},
            reference="PN-9",
        )
    ),
    "tax_incentive": {
        "incentive": "equipment_credit",
        **to_payload(EquipmentInvestment("EQ-7", "E5", 123_456_00, date(2026, 3, 1), "SCR 7")),
    },
}
# What each says (English, then Chinese): its sentence, for whom, its amounts.
EXPECTED: dict[str, tuple[str, str, str, str]] = {
    "allocation": (
        "Allocate SO2 rights for vintages 2031–2035 (allocation A-1)",
        "分配 2031–2035 年度的 SO2 排污权（分配 A-1）",
        "E1",
        "1,500.250 t/a",
    ),
    "buy_back": (
        "Buy back SO2 rights of vintages 2027–2028 into the reserve of TANGSHAN, paid from its "
        "budget (decision R-3)",
        "将 2027–2028 年度的 SO2 排污权回购入 TANGSHAN 政府储备，由其预算支付（决定 R-3）",
        "E3",
        "{cny}7,500.00",  # 1.5 t/a × 5,000 CNY/t, once for both vintages
    ),
    "confiscation": (
        "Confiscate NOx rights of vintages 2026–2027 and cancel them (decision R-1 of HEBEI)",
        "没收 2026–2027 年度的 NOx 排污权并予以注销（HEBEI 的决定 R-1）",
        "E2",
        "2.005 t/a",
    ),
    "cancellation": (
        "Cancel COD rights of vintages 2028–2028 from the reserve of HEBEI (decision R-2)",
        "注销 HEBEI 政府储备中 2028–2028 年度的 COD 排污权（决定 R-2）",
        "HEBEI",
        "7.000 t/a",
    ),
    "reversal": ("Reverse entry adj-1 with entry rev-1", "以分录 rev-1 冲销分录 adj-1", "", ""),
    "adjustment": (
        "Post the adjustment adj-2",
        "过账调整分录 adj-2",
        "E1, HEBEI",
        "E1:cash {credit} {cny}1,234.50",
    ),
    "period_reopen": ("Reopen the closed period 2026-11", "重新开启已结账的期间 2026-11", "", ""),
    "enrolment": (
        "Issue an enrolment code to principal ver-new",
        "为主体 ver-new 签发注册码",
        "ver-new",
        "",
    ),
    "penalty": (
        "Book a rights penalty for SO2 found in report RPT-7 (penalty P-1)",
        "就报告 RPT-7 查明的 SO2 问题登记排污权罚款（罚款 P-1）",
        "E3",
        "{cny}123,456.78",
    ),
    "obligation_close": (
        "Close carbon obligation E3-2026 with a shortfall: book its penalty at the stated "
        "average price",
        "以填报的平均价格对存在缺口的碳履约义务 E3-2026 结算并登记罚款",
        "E3",
        "{cny}591,000.00",
    ),
    "tax_table": (
        "Set the tax rate of so2_nox in tier 1 of scheme hebei from 2027-01-01 (entry T-1)",
        "设定方案 hebei 第 1 档 so2_nox 自 2027-01-01 起的税额（条目 T-1）",
        "",
        "{cny}4.80",
    ),
    "permit": (
        "Set the permit of outlet SINTER-1 from 2027-01: it relaxes a standard or a removal "
        "efficiency",
        "设定排放口 SINTER-1 自 2027-01 起的许可证：放宽了排放标准或去除效率",
        "E4",
        "SO2 ≤ 50 mg/Nm³",
    ),
    "tax_incentive": (
        "Grant the CIT credit of 10 % on equipment EQ-7 acquired on 2026-03-01",
        "就 2026-03-01 购置的设备 EQ-7 给予 10 % 企业所得税抵免",
        "E5",
        "{cny}123,456.00",
    ),
}
SIDES = {"en": "credit", "zh": "贷方"}
YUAN = {"en": "CN¥", "zh": "¥"}  # Babel's CNY symbol in each locale


def _request(operation: str, payload: dict[str, Any]) -> ApprovalRequest:
    return ApprovalRequest(
        "req-1",
        operation,
        payload,
        "HEBEI",
        "regulator-hebei",
        RequestState.PENDING,
        ASKED_AT,
        ASKED_AT + timedelta(days=7),
    )


def test_every_operation_that_waits_for_a_second_principal_is_described() -> None:
    executors = approvals._executors()  # the table of what each four-eyes operation runs
    assert sorted(DESCRIBERS) == sorted(executors) == sorted(PAYLOADS)


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("operation", sorted(PAYLOADS))
def test_a_request_is_said_in_the_readers_language(operation: str, language: str) -> None:
    english, chinese, whom, amount = EXPECTED[operation]
    shown = describe(_request(operation, PAYLOADS[operation]), language)
    assert shown.what == (english if language == "en" else chinese)
    assert shown.whom == whom
    if amount:
        assert amount.format(credit=SIDES[language], cny=YUAN[language]) in " ".join(shown.amounts)
    assert dict(shown.raw)  # the stored payload, field by field, for the folded details


def test_other_tax_table_entries_and_notes_are_said_too() -> None:
    so2 = EquivalentValue(Pollutant.SO2, Decimal("0.95"))
    equivalent = entry_payload("T-2", date(2027, 1, 1), so2)
    member = entry_payload("T-3", date(2027, 1, 1), Membership("Tangshan", "Qian'an", "hebei", "1"))
    said = describe(_request("tax_table", equivalent), "en")
    assert said.amounts == ("0.95 kg per pollution equivalent",)
    placed = describe(_request("tax_table", member), "zh")
    assert placed.what == "自 2027-01-01 起将 Tangshan · Qian'an 划入方案 hebei 的 1 档（条目 T-3）"
    reopen = describe(_request("period_reopen", PAYLOADS["period_reopen"]), "en")
    assert reopen.notes == ("Reason: late invoice",)
    permit = describe(_request("permit", PAYLOADS["permit"]), "zh")
    assert "SO2 去除率：95 %" in permit.amounts and permit.notes == ("许可证 PN-9",)


def test_every_kind_of_tax_incentive_request_says_its_figures() -> None:
    project: dict[str, Any] = {"incentive": "retrofit_project", "id": "RP-1", "party": "E5"}
    project |= {"first_revenue_year": 2025, "description": "kiln SCR"}
    registered = describe(_request("tax_incentive", project), "en")
    year: dict[str, Any] = {"incentive": "project_year", "project_id": "RP-1", "year": 2026}
    year |= {"income_fen": 400_000_00, "business_date": "2027-05-31"}
    booked = describe(_request("tax_incentive", year), "zh")
    credit_year: dict[str, Any] = {"incentive": "credit_year", "party": "E5", "year": 2026}
    credit_year |= {"cit_payable_fen": 5_00, "business_date": None}
    used = describe(_request("tax_incentive", credit_year), "en")

    assert registered.what == "Register retrofit project RP-1, its income exempt from 2025"
    assert registered.notes == ("Description: kiln SCR",)
    assert booked.what == "登记改造项目 RP-1 2026 年度的所得及其企业所得税减免"
    assert booked.notes == ("业务日期：2027-05-31",)
    assert "400,000.00" in booked.amounts[0]
    assert (used.what, used.whom) == ("Book tax year 2026 of the equipment credits", "E5")
    assert "5.00" in used.amounts[0]


def test_a_request_that_cannot_be_read_shows_its_operation_and_payload() -> None:
    broken = describe(_request("allocation", {"id": "A-9"}), "en")
    unknown = describe(_request("something_new", {"x": [1, 2]}), "zh")
    assert (broken.what, broken.amounts) == ("allocation", ())
    assert unknown.what == "something_new" and unknown.raw == (("x", "[1, 2]"),)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_queue_shows_a_regulators_requests_in_human_terms(app: FastAPI, language: str) -> None:
    store = app.state.store
    store.four_eyes = FourEyesPolicy(FOUR_EYES_OPERATIONS)
    regulator = of(store, "HEBEI")
    allocation = Entitlement("A-1", "E1", "SO2", 1_500_250, 2031, 2035)
    rights.confirm_entitlement(store, regulator, allocation)
    confiscation = ReserveOperation(
        "R-1", ReserveAction.CONFISCATION, "HEBEI", "SO2", 2_005, 2026, 2026, "E2"
    )
    rights.reserve_operation(store, regulator, confiscation)
    second = actor(store, Role.REGULATOR, "HEBEI", principal="regulator-2")
    with TestClient(app) as client:
        client.cookies.set("ledger_language", language, path="/console")
        sign_in(client, token_for(store, second))
        page = client.get("/console/approvals").text
    english, chinese, _whom, amount = EXPECTED["allocation"]
    assert (english if language == "en" else chinese) in page
    assert amount in page and "2.005 t/a" in page and "<td>E2</td>" in page
    assert "<td>regulator-hebei</td>" in page
    assert "CST</td>" in page and "+00:00" not in page  # asked at, in China Standard Time
    assert '<details class="payload">' in page and "<details open" not in page
    assert page.count('action="/console/approvals/') == 4  # approve and reject, twice
