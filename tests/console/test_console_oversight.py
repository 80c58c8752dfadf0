"""An authority's oversight pages: the months with an hourly exceedance in its scope (a page at a
time), and an enterprise's penalty-basis events, recorded through the API's use case."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.console import pages_oversight, web
from ledger.domain.access import Role
from ledger.domain.penalty_basis import PenaltyBasisEvent, PenaltyReason
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.services import penalty_basis
from ledger.settings import Settings
from tests.console.conftest import Case, sign_in, walk
from tests.factories import NO_FOUR_EYES, actor, token_for
from tests.integration.monitoring_support import (
    build_outlets,
    city_authority,
    full_month,
    import_lines,
    line,
    stamp,
)

HOURS = "/console/monitoring/hours?party=E1&amp;outlet=SINTER-1&amp;pollutant=SO2&amp;month="


@dataclass(frozen=True)
class Monitored:
    app: FastAPI
    store: Store
    tokens: dict[str, str]  # regulator, handan (its city authority), e1, e2

    def client(self, who: str, language: str = "en") -> tuple[TestClient, str]:
        client = TestClient(self.app)
        client.cookies.set("ledger_language", language, path="/console")
        return client, sign_in(client, self.tokens[who])


@pytest.fixture
def monitored(sqlite_template: Path, tmp_path: Path) -> Iterator[Monitored]:
    """E1's SINTER-1 (Tangshan) above its SO2 standard of 35 mg/Nm³ in March and April 2025,
    below it in February; E2's UNIT-1 (Handan) below it in March."""
    path = tmp_path / "ledger.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    store = Store(create_ledger_engine(url, sqlite_synchronous="NORMAL"), four_eyes=NO_FOUR_EYES)
    build_outlets(store)
    e1 = [
        row
        for month, c in (
            (date(2025, 2, 1), "20"),
            (date(2025, 3, 1), "40"),
            (date(2025, 4, 1), "40"),
        )
        for row in full_month(c, month)
    ]
    e2 = [line(stamp(day, 0), outlet="E2,UNIT-1") for day in range(1, 29)]
    import_lines(store, e1 + e2)
    tokens = {
        "regulator": token_for(store, actor(store, Role.REGULATOR, "HEBEI")),
        "handan": token_for(store, city_authority(store, "Handan")),
        "e1": token_for(store, actor(store, Role.ENTERPRISE, "E1")),
        "e2": token_for(store, actor(store, Role.ENTERPRISE, "E2")),
    }
    app = create_app(Settings(database_url=url, four_eyes=frozenset()), store=store)
    yield Monitored(app, store, tokens)
    store.dispose()


def test_a_regulator_sees_the_months_with_an_exceedance_a_page_at_a_time(
    monitored: Monitored, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pages_oversight, "ROWS", 1)
    client, _ = monitored.client("regulator")
    with client:
        first = client.get("/console/exceedances", params={"year": "2025"}).text
        next_link = first.split('<p class="pager"><a href="', 1)[1].split('"', 1)[0]
        second = client.get("/console/exceedances" + next_link.replace("&amp;", "&")).text
        dashboard = client.get("/console/").text
        other_year = client.get("/console/exceedances", params={"year": "2024"}).text
    shown = [page.split(HOURS, 1)[1][:7] for page in (first, second)]
    assert sorted(shown) == ["2025-03", "2025-04"]  # one a page; February is below the standard
    assert "2025-02" not in first + second
    row = '<tr><th scope="row">E1</th><td>SINTER-1</td><td>SO2</td>'
    assert row in first and '<td class="num">720</td>' in first + second  # April: every hour
    assert "year=2025" in next_link and 'href="/console/exceedances"' in dashboard
    assert "No exceedances in this year." in other_year


def test_each_reader_sees_the_exceedances_of_its_own_scope(monitored: Monitored) -> None:
    handan, _ = monitored.client("handan")
    e1, _ = monitored.client("e1", language="zh")
    e2, _ = monitored.client("e2")
    with handan, e1, e2:
        city = handan.get("/console/exceedances", params={"year": "2025"}).text
        named = handan.get("/console/exceedances", params={"year": "2025", "party": "E1"}).text
        own = e1.get("/console/exceedances", params={"year": "2025"}).text
        other = e2.get("/console/exceedances", params={"year": "2025", "party": "E1"}).text
    assert "No exceedances in this year." in city and "No exceedances in this year." in named
    assert f"{HOURS}2025-03" in own and "超标情况" in own
    assert "No exceedances in this year." in other  # E2 names E1: still its own


def test_a_regulator_records_a_penalty_basis_event_the_enterprise_then_sees(
    monitored: Monitored,
) -> None:
    client, csrf = monitored.client("regulator")
    with client:
        page = client.get("/console/penalty-events", params={"party": "E1"}).text
        event_id = page.split('name="id" value="', 1)[1].split('"', 1)[0]
        form = {
            "csrf": csrf,
            "id": event_id,
            "party": "E1",
            "outlet": "SINTER-1",
            "reason": "cems_tampered",
            "first_month": "2025-03",
            "last_month": "2025-04",
            "evidence": "inspection 2025-117",
            "generated_kg.SO2": "1500.5",
        }
        recorded = client.post("/console/penalty-events", data=form).text
        again = client.post("/console/penalty-events", data=form).text  # the same form: a replay
        changed = client.post("/console/penalty-events", data={**form, "evidence": "other"}).text
    assert "<option>SINTER-1</option>" in page and "Record an event" in page
    said = f"Penalty-basis event {event_id} recorded against E1/SINTER-1."
    assert said in recorded and said in again
    assert f'<th scope="row">{event_id}</th><td>SINTER-1</td><td>cems_tampered</td>' in recorded
    assert "2025-03–2025-04" in recorded and "SO2 1,500.5" in recorded
    assert "Refused: record_exists" in changed
    store = monitored.store
    (event,) = penalty_basis.list_events(store, actor(store, Role.REGULATOR, "HEBEI"), "E1")
    assert (event.id, event.recorded_by, event.evidence) == (
        event_id,
        "regulator-hebei",
        "inspection 2025-117",
    )
    enterprise, _ = monitored.client("e1", language="zh")
    with enterprise:
        own = enterprise.get("/console/penalty-events", params={"party": "E2"}).text
    assert f'<th scope="row">{event_id}</th>' in own and "篡改自动监测数据" in own
    assert "登记事件" not in own  # an enterprise records none: no form


def test_an_event_is_refused_as_the_api_refuses_it(monitored: Monitored) -> None:
    client, csrf = monitored.client("regulator")
    form = {
        "csrf": csrf,
        "id": "PB-1",
        "party": "E1",
        "outlet": "SINTER-1",
        "reason": "illegal_discharge",
        "first_month": "2025-03",
        "last_month": "2025-03",
    }
    with client:
        no_evidence = client.post("/console/penalty-events", data=form).text
        backwards = client.post(
            "/console/penalty-events",
            data={**form, "evidence": "case 7", "first_month": "2025-04"},
        ).text
        unknown = client.post(
            "/console/penalty-events", data={**form, "evidence": "case 7", "outlet": "NOPE"}
        )
        picker = client.get("/console/penalty-events").text
    assert "Refused: invalid_field: evidence" in no_evidence
    assert "Refused: invalid_field: the last month is before the first" in backwards
    assert unknown.status_code == 404 and "record_not_found" in unknown.text
    assert 'name="party"' in picker and "Record an event" not in picker  # no party named yet


def test_a_city_authority_sees_no_events_outside_its_city(monitored: Monitored) -> None:
    handan, _ = monitored.client("handan")
    with handan:
        own = handan.get("/console/penalty-events", params={"party": "E2"})
        other = handan.get("/console/penalty-events", params={"party": "E1"})
    assert own.status_code == 200 and "No penalty-basis events." in own.text
    assert "Record an event" not in own.text  # recording is the province regulator's
    assert other.status_code == 404 and "party_not_found" in other.text


def test_an_enterprises_penalty_basis_events_come_a_page_at_a_time(
    monitored: Monitored, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = monitored.store
    regulator = actor(store, Role.REGULATOR, "HEBEI")
    for number, month in enumerate((date(2025, 2, 1), date(2025, 3, 1), date(2025, 4, 1))):
        event = PenaltyBasisEvent(
            f"PB-{number}", "E1", "SINTER-1", PenaltyReason.CEMS_TAMPERED, month, month, "case"
        )
        penalty_basis.record_event(store, regulator, event)
    case = Case(Role.REGULATOR, "/console/penalty-events?party=E1", "Events by first month")
    client, _ = monitored.client("regulator")
    with client:
        (whole,) = walk(client, case.path, case)
        monkeypatch.setattr(web, "ROWS_PER_PAGE", 2)
        pages = walk(client, case.path, case)
    assert whole == ["PB-0", "PB-1", "PB-2"]
    assert pages == [["PB-0", "PB-1"], ["PB-2"]]  # the party carried to the second page
